"""A session's booking questions and consents (PUT/GET /v1/sessions/{id}/questions), and the
answers and acceptances a booking request gives (`core.questions` checks them)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.enums import QuestionScope, QuestionType
from core.questions import CHOICES, DEFAULT_TEXT_ANSWER, MAX_TEXT_ANSWER
from messages.booking import MAX_PLACES_PER_BOOKING
from models.tables import Session
from schemas.fields import Line, Lines, Text

# A question's or a consent's key: how answers, acceptances and CSV columns name it.
KEY = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_QUESTIONS = 50
MAX_CONSENTS = 10

Key = Annotated[str, Field(pattern=KEY, examples=["date_of_birth"])]
Option = Annotated[Line, Field(min_length=1, max_length=100)]


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Text
    type: QuestionType
    scope: QuestionScope = QuestionScope.BOOKING
    required: bool = False
    help_text: Annotated[Line, Field(max_length=500)] | None = None
    options: Annotated[list[Option], Field(max_length=50)] = Field(
        [], description="The choices of a single or multiple choice question"
    )
    max_length: Annotated[int, Field(ge=1, le=MAX_TEXT_ANSWER)] = Field(
        DEFAULT_TEXT_ANSWER, description="The longest text answer, in characters"
    )
    min_age: Annotated[int, Field(ge=1, le=120)] | None = Field(
        None,
        description="A date question asking a date of birth: the youngest age accepted, in "
        "full years on the session's date where it happens",
    )

    @model_validator(mode="after")
    def _coherent(self) -> "QuestionIn":
        if (self.type in CHOICES) != bool(self.options):
            raise ValueError("choice questions, and only they, list options")
        if len(set(self.options)) != len(self.options):
            raise ValueError("an option is listed twice")
        if self.min_age is not None and self.type != QuestionType.DATE:
            raise ValueError("only a date question (a date of birth) has a minimum age")
        return self


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    title: Text
    text: Annotated[Lines, Field(min_length=1, max_length=20_000)]


class QuestionSetIn(BaseModel):
    """The whole set, replacing the one before; answers already given keep the question as it
    was (each answer is stored with its label and type)."""

    model_config = ConfigDict(extra="forbid")

    questions: Annotated[list[QuestionIn], Field(max_length=MAX_QUESTIONS)] = []
    consents: Annotated[list[ConsentIn], Field(max_length=MAX_CONSENTS)] = []

    @model_validator(mode="after")
    def _unique(self) -> "QuestionSetIn":
        for things in (self.questions, self.consents):
            keys = [thing.key for thing in things]
            if len(set(keys)) != len(keys):
                raise ValueError("a key is used twice")
        return self


class ConsentOut(ConsentIn):
    version: int = Field(description="Raised each time the title or text changes")


class QuestionSetOut(BaseModel):
    questions: list[QuestionIn]
    consents: list[ConsentOut]

    @classmethod
    def of(cls, session: Session) -> "QuestionSetOut":
        return cls.model_validate({"questions": session.questions, "consents": session.consents})


# What a booking request answers: text (lines allowed), a number, true or false, a list of
# options; `core.questions` checks each against its question's type.
AnswerValue = (
    Annotated[Lines, Field(max_length=MAX_TEXT_ANSWER)] | int | float | bool | list[Option]
)


class AnswerIn(BaseModel):
    question: Key
    attendee: Annotated[int, Field(ge=0, lt=MAX_PLACES_PER_BOOKING)] | None = Field(
        None, description="The place (0, 1, ...) a per-attendee question is answered for"
    )
    value: AnswerValue


class ConsentGiven(BaseModel):
    consent: Key
    version: Annotated[int, Field(ge=1)]


class AnswerOut(BaseModel):
    """An answer as stored: with its question's label and type when it was answered."""

    question: str
    label: str
    type: QuestionType
    attendee: int | None
    value: Any


class ConsentAcceptedOut(BaseModel):
    consent: str
    version: int
    title: str
    accepted_at: datetime
