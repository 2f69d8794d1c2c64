"""A session's booking questions and consents, and the check of a booking's answers against
them: pure functions of the definitions, the answers and the session's local date.

Each stored answer carries its question's label and type as they were when it was given (a
snapshot), so an organiser may change the questions after bookings exist without making any
stored answer unreadable or invalid. A consent is accepted at the version its text had; a
changed text is a new version (store.questions numbers them).
"""

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.enums import QuestionScope, QuestionType
from core.errors import InvalidRequest

CHOICES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})
MAX_TEXT_ANSWER = 2000
DEFAULT_TEXT_ANSWER = 500
# A number answer beyond this is a typing error, and past 2**53 JSON readers lose digits.
MAX_NUMBER = 10**15


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    type: QuestionType
    scope: QuestionScope = QuestionScope.BOOKING
    required: bool = False
    help_text: str | None = None
    options: list[str] = field(default_factory=list)
    max_length: int = DEFAULT_TEXT_ANSWER  # of a text answer
    min_age: int | None = None  # a date question asking a date of birth: the age check


@dataclass(frozen=True)
class Consent:
    key: str
    title: str
    text: str
    version: int


@dataclass
class Answer:
    """One answer as stored and carried in the booking workflow's input: the question's key,
    label and type when it was answered, the place it is about (None: the booking's)."""

    question: str
    label: str
    type: QuestionType
    attendee: int | None
    value: Any  # str, int, float, bool or list[str], by `type`


@dataclass
class ConsentAccepted:
    consent: str
    version: int
    title: str
    accepted_at: datetime

    def stored(self) -> dict[str, Any]:
        return {**vars(self), "accepted_at": self.accepted_at.isoformat()}


@dataclass(frozen=True)
class Given:
    """An answer as a request gives it."""

    question: str
    value: Any
    attendee: int | None = None


def questions_of(stored: list[dict[str, Any]]) -> list[Question]:
    return [Question(**q) for q in stored]


def consents_of(stored: list[dict[str, Any]]) -> list[Consent]:
    return [Consent(**c) for c in stored]


def age_on(born: date, on: date) -> int:
    """Full years from `born` to `on`; someone born on 29 February turns a year older on
    1 March in a common year."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def check_answers(
    questions: list[Question], given: list[Given], places: int, on: date
) -> list[Answer]:
    """The answers to store, or InvalidRequest naming every wrong one (its index in the
    request, the attendee, the question). `on` is the session's date where it happens."""
    by_key = {q.key: q for q in questions}
    errors: list[dict[str, Any]] = []
    answers: dict[tuple[str, int | None], Answer] = {}
    refused: set[tuple[str, int | None]] = set()
    for index, answer in enumerate(given):
        question = by_key.get(answer.question)
        problem = _misplaced(question, answer, places) or _wrong_value(question, answer, on)
        if problem is None and (answer.question, answer.attendee) in answers:
            problem = "is answered twice"
        if problem is not None:
            errors.append(_error(f"answers.{index}", answer.question, answer.attendee, problem))
            refused.add((answer.question, answer.attendee))
            continue
        assert question is not None
        answers[(question.key, answer.attendee)] = Answer(
            question.key, question.label, question.type, answer.attendee, _value(question, answer)
        )
    errors += _missing(questions, answers.keys() | refused, answers, places)
    if errors:
        raise InvalidRequest(f"{len(errors)} answer(s) are not valid", errors=errors)
    return list(answers.values())


def check_consents(
    consents: list[Consent], given: dict[str, int], at: datetime
) -> list[ConsentAccepted]:
    """Every consent of the session accepted at its current version (`given`: key to
    version), recorded at `at`; InvalidRequest naming each one missing, unknown or stale."""
    current = {c.key: c for c in consents}
    errors = [
        _consent_error(key, f"is not a consent of this session (it asks {sorted(current)})")
        for key in given
        if key not in current
    ]
    for consent in consents:
        version = given.get(consent.key)
        if version is None:
            errors.append(_consent_error(consent.key, "must be accepted"))
        elif version != consent.version:
            errors.append(
                _consent_error(
                    consent.key,
                    f"version {version} is not the current version {consent.version}: "
                    "show the customer the current text",
                )
            )
    if errors:
        raise InvalidRequest(f"{len(errors)} consent(s) are not accepted", errors=errors)
    return [ConsentAccepted(c.key, c.version, c.title, at) for c in consents]


def check_form(
    stored_questions: list[dict[str, Any]],
    stored_consents: list[dict[str, Any]],
    given: list[Given],
    accepted: dict[str, int],
    places: int,
    *,
    starts_at: datetime,
    time_zone: str,
    at: datetime,
) -> tuple[list[Answer], list[ConsentAccepted]]:
    """A booking's answers and acceptances against its session's set (as stored on the
    session), for a session starting at `starts_at` in `time_zone` (the age check counts to
    its local date); one InvalidRequest naming every wrong answer and consent."""
    on = starts_at.astimezone(ZoneInfo(time_zone)).date()
    errors: list[dict[str, Any]] = []
    answers: list[Answer] = []
    consents: list[ConsentAccepted] = []
    try:
        answers = check_answers(questions_of(stored_questions), given, places, on)
    except InvalidRequest as err:
        errors += err.extra["errors"]
    try:
        consents = check_consents(consents_of(stored_consents), accepted, at)
    except InvalidRequest as err:
        errors += err.extra["errors"]
    if errors:
        raise InvalidRequest(f"{len(errors)} answer(s) or consent(s) are not valid", errors=errors)
    return answers, consents


def _misplaced(question: Question | None, answer: Given, places: int) -> str | None:
    if question is None:
        return "is not a question of this session"
    if question.scope == QuestionScope.BOOKING:
        return None if answer.attendee is None else "is asked of the booking, not an attendee"
    if answer.attendee is None:
        return "is asked of each attendee: give the attendee's index"
    if not 0 <= answer.attendee < places:
        return f"names attendee {answer.attendee}, but the booking has {places} place(s)"
    return None


def _wrong_value(question: Question | None, answer: Given, on: date) -> str | None:
    if question is None:  # already refused as misplaced
        return None
    return _CHECKS[question.type](question, answer.value, on)


def _text(question: Question, value: Any, on: date) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    if len(value) > question.max_length:
        return f"must be at most {question.max_length} characters"
    return None  # NUL and control characters: refused with every text field (schemas.fields)


def _number(question: Question, value: Any, on: date) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        return f"must be a number between -{MAX_NUMBER} and {MAX_NUMBER}"
    return None


def _date(question: Question, value: Any, on: date) -> str | None:
    born = _iso_date(value)
    if born is None:
        return "must be a date, e.g. 1990-04-23"
    if question.min_age is not None and age_on(born, on) < question.min_age:
        return f"must be at least {question.min_age} years old on {on.isoformat()}"
    return None


def _single(question: Question, value: Any, on: date) -> str | None:
    if not isinstance(value, str) or value not in question.options:
        return f"must be one of {question.options}"
    return None


def _multiple(question: Question, value: Any, on: date) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of options"
    unknown = [v for v in value if v not in question.options]
    if unknown:
        return f"names {unknown}, not among {question.options}"
    if len(set(value)) != len(value):
        return "names an option twice"
    if question.required and not value:
        return "must name at least one option"
    return None


def _yes_no(question: Question, value: Any, on: date) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


_CHECKS = {
    QuestionType.TEXT: _text,
    QuestionType.NUMBER: _number,
    QuestionType.DATE: _date,
    QuestionType.SINGLE_CHOICE: _single,
    QuestionType.MULTIPLE_CHOICE: _multiple,
    QuestionType.YES_NO: _yes_no,
}


def _iso_date(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _value(question: Question, answer: Given) -> Any:
    """The answer as stored: text without its surrounding blanks, choices in the options'
    order (two requests naming the same options store the same list)."""
    if question.type == QuestionType.TEXT:
        return answer.value.strip()
    if question.type == QuestionType.MULTIPLE_CHOICE:
        return [o for o in question.options if o in answer.value]
    return answer.value


def _missing(
    questions: list[Question],
    given: set[tuple[str, int | None]],
    answers: dict[tuple[str, int | None], Answer],
    places: int,
) -> list[dict[str, Any]]:
    """A required question not answered (blank text counts as unanswered), for each place
    when it is asked of every attendee; one whose answer was refused is named once, by that."""
    errors = []
    for question in (q for q in questions if q.required):
        asked: list[int | None] = (
            list(range(places)) if question.scope == QuestionScope.ATTENDEE else [None]
        )
        for attendee in asked:
            answer = answers.get((question.key, attendee))
            if (question.key, attendee) not in given or (answer and answer.value == ""):
                errors.append(_error("answers", question.key, attendee, "is required"))
    return errors


def _error(field_: str, question: str, attendee: int | None, message: str) -> dict[str, Any]:
    return {"field": field_, "question": question, "attendee": attendee, "message": message}


def _consent_error(key: str, message: str) -> dict[str, Any]:
    return {"field": "consents", "consent": key, "message": message}
