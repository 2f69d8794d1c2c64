"""The check of a booking's answers and consents: every type taken and refused, required
answers, the age check on the session's local date, consents at their current version."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.enums import QuestionScope, QuestionType
from core.errors import InvalidRequest
from core.questions import (
    Consent,
    Given,
    Question,
    age_on,
    check_answers,
    check_consents,
    check_form,
)

ON = date(2026, 12, 6)
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ATTENDEE = QuestionScope.ATTENDEE


def question(kind: QuestionType, **extra: Any) -> Question:
    options = ["veg", "vegan", "none"] if kind in ("single_choice", "multiple_choice") else []
    return Question(key="q", label="The question", type=kind, **{"options": options, **extra})


def errors_of(err: pytest.ExceptionInfo[InvalidRequest]) -> list[dict[str, Any]]:
    return err.value.extra["errors"]  # type: ignore[no-any-return]


VALID = [
    (QuestionType.TEXT, "Acme, Ltd.\nLeeds\tUK", "Acme, Ltd.\nLeeds\tUK"),
    (QuestionType.TEXT, "  padded  ", "padded"),
    (QuestionType.NUMBER, 42, 42),
    (QuestionType.NUMBER, -1.5, -1.5),
    (QuestionType.DATE, "1990-02-28", "1990-02-28"),
    (QuestionType.SINGLE_CHOICE, "vegan", "vegan"),
    (QuestionType.MULTIPLE_CHOICE, ["none", "veg"], ["veg", "none"]),  # the options' order
    (QuestionType.MULTIPLE_CHOICE, [], []),
    (QuestionType.YES_NO, False, False),
]


@pytest.mark.parametrize(("kind", "value", "stored"), VALID)
def test_each_type_takes_its_answers(kind: QuestionType, value: Any, stored: Any) -> None:
    [answer] = check_answers([question(kind)], [Given("q", value)], 1, ON)
    assert (answer.question, answer.label, answer.type) == ("q", "The question", kind)
    assert answer.value == stored and answer.attendee is None


INVALID = [
    (QuestionType.TEXT, 7, "must be text"),
    (QuestionType.TEXT, "x" * 501, "at most 500"),
    (QuestionType.NUMBER, "42", "must be a number"),
    (QuestionType.NUMBER, True, "must be a number"),
    (QuestionType.NUMBER, float("nan"), "between"),
    (QuestionType.NUMBER, 10**16, "between"),
    (QuestionType.DATE, "1990-02-30", "must be a date"),
    (QuestionType.DATE, "06/12/1990", "must be a date"),
    (QuestionType.DATE, 19900101, "must be a date"),
    (QuestionType.SINGLE_CHOICE, "fish", "must be one of"),
    (QuestionType.SINGLE_CHOICE, ["veg"], "must be one of"),
    (QuestionType.MULTIPLE_CHOICE, "veg", "list of options"),
    (QuestionType.MULTIPLE_CHOICE, ["veg", "fish"], "'fish'"),
    (QuestionType.MULTIPLE_CHOICE, ["veg", "veg"], "twice"),
    (QuestionType.YES_NO, "yes", "true or false"),
    (QuestionType.YES_NO, 1, "true or false"),
]


@pytest.mark.parametrize(("kind", "value", "message"), INVALID)
def test_each_type_refuses_what_is_not_its_answer(
    kind: QuestionType, value: Any, message: str
) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_answers([question(kind)], [Given("q", value)], 1, ON)
    [error] = errors_of(err)
    assert error["field"] == "answers.0" and error["question"] == "q"
    assert message in error["message"]


def test_a_text_answer_is_bounded_by_its_question() -> None:
    short = question(QuestionType.TEXT, max_length=5)
    assert check_answers([short], [Given("q", "12345")], 1, ON)[0].value == "12345"
    with pytest.raises(InvalidRequest, match="answer"):
        check_answers([short], [Given("q", "123456")], 1, ON)


@pytest.mark.parametrize(
    ("kind", "value"),
    [(QuestionType.TEXT, "   "), (QuestionType.MULTIPLE_CHOICE, [])],
)
def test_a_blank_answer_to_a_required_question_is_missing(kind: QuestionType, value: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_answers([question(kind, required=True)], [Given("q", value)], 1, ON)
    assert any("required" in e["message"] or "at least one" in e["message"] for e in errors_of(err))


def test_a_required_question_asked_of_each_attendee_names_each_one_missing() -> None:
    asked = [
        question(QuestionType.YES_NO, required=True),
        Question("dob", "Date of birth", QuestionType.DATE, ATTENDEE, required=True),
    ]
    with pytest.raises(InvalidRequest) as err:
        check_answers(asked, [Given("dob", "1990-01-01", 1)], 3, ON)
    missing = {(e["question"], e["attendee"]) for e in errors_of(err)}
    assert missing == {("q", None), ("dob", 0), ("dob", 2)}
    assert all(e["message"] == "is required" for e in errors_of(err))


def test_answers_must_fit_their_question_and_the_booking() -> None:
    asked = [
        question(QuestionType.YES_NO),
        Question("dob", "Date of birth", QuestionType.DATE, ATTENDEE),
    ]
    given = [
        Given("q", True, 0),  # a booking's question given for an attendee
        Given("dob", "1990-01-01"),  # an attendee's question given for the booking
        Given("dob", "1990-01-01", 2),  # a third place of two
        Given("shoe_size", 42),  # no such question
        Given("dob", "1990-01-01", 1),
        Given("dob", "1991-01-01", 1),  # twice
    ]
    with pytest.raises(InvalidRequest) as err:
        check_answers(asked, given, 2, ON)
    found = {e["field"]: (e["question"], e["attendee"], e["message"]) for e in errors_of(err)}
    assert set(found) == {"answers.0", "answers.1", "answers.2", "answers.3", "answers.5"}
    assert "not an attendee" in found["answers.0"][2]
    assert "give the attendee's index" in found["answers.1"][2]
    assert found["answers.2"][:2] == ("dob", 2) and "2 place(s)" in found["answers.2"][2]
    assert "not a question" in found["answers.3"][2]
    assert "twice" in found["answers.5"][2]


def test_age_counts_full_years_and_leap_day_birthdays_turn_on_the_first_of_march() -> None:
    assert age_on(date(2008, 12, 6), date(2026, 12, 6)) == 18
    assert age_on(date(2008, 12, 7), date(2026, 12, 6)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def form(dob: str, *, starts_at: datetime, time_zone: str) -> None:
    adult = Question("dob", "Date of birth", QuestionType.DATE, ATTENDEE, True, min_age=18)
    stored = [{**vars(adult), "options": []}]
    check_form(
        stored, [], [Given("dob", dob, 0)], {}, 1, starts_at=starts_at, time_zone=time_zone, at=AT
    )


def test_the_age_check_counts_to_the_sessions_local_date_on_the_boundary_day() -> None:
    # 23:30 UTC on 6 December is already 7 December in Auckland (UTC+13 in summer).
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    form("2008-12-07", starts_at=late, time_zone="Pacific/Auckland")  # 18 that day
    with pytest.raises(InvalidRequest) as err:
        form("2008-12-07", starts_at=late, time_zone="Europe/London")  # still 6 December
    [error] = errors_of(err)
    assert error["attendee"] == 0 and error["question"] == "dob"
    assert error["message"] == "must be at least 18 years old on 2026-12-06"
    form("2008-12-06", starts_at=late, time_zone="Europe/London")
    with pytest.raises(InvalidRequest, match="not valid"):
        form("2008-12-08", starts_at=late, time_zone="Pacific/Auckland")


WAIVER = Consent("waiver", "Medical waiver", "I am fit to train.", 2)


def test_consents_are_recorded_at_their_version_and_time() -> None:
    [accepted] = check_consents([WAIVER], {"waiver": 2}, AT)
    assert (accepted.consent, accepted.version, accepted.title) == ("waiver", 2, "Medical waiver")
    assert accepted.stored()["accepted_at"] == "2026-12-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "must be accepted"),
        ({"waiver": 1}, "version 1 is not the current version 2"),
        ({"waiver": 2, "terms": 1}, "is not a consent of this session"),
    ],
)
def test_a_consent_missing_stale_or_unknown_is_refused(given: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_consents([WAIVER], given, AT)
    [error] = errors_of(err)
    assert error["field"] == "consents" and message in error["message"]


def test_one_refusal_names_every_wrong_answer_and_consent() -> None:
    stored_question = {**vars(question(QuestionType.YES_NO, required=True)), "options": []}
    with pytest.raises(InvalidRequest) as err:
        check_form(
            [stored_question],
            [vars(WAIVER)],
            [],
            {},
            1,
            starts_at=AT,
            time_zone="UTC",
            at=AT,
        )
    assert [e.get("question") or e.get("consent") for e in errors_of(err)] == ["q", "waiver"]
