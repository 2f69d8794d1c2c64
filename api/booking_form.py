"""A booking's answers and consents checked against its session's questions, alike for
`POST /v1/bookings` and an accepted waiting-list offer."""

from datetime import UTC, datetime

from core.questions import Answer, ConsentAccepted, Given, check_form
from models.tables import Session
from schemas.bookings import FormAnswers


def checked_form(
    session: Session, form: FormAnswers, places: int
) -> tuple[list[Answer], list[ConsentAccepted]]:
    """The answers and acceptances to store; InvalidRequest (422) naming each wrong answer
    (its attendee and question) and consent."""
    return check_form(
        session.questions,
        session.consents,
        [Given(a.question, a.value, a.attendee) for a in form.answers],
        {c.consent: c.version for c in form.consents},
        places,
        starts_at=session.starts_at,
        time_zone=session.time_zone,
        at=datetime.now(UTC),
    )
