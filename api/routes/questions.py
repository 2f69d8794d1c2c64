"""A session's booking questions and consents: read by any key of the organisation (a booking
form shows them), replaced as a whole by admins."""

from fastapi import APIRouter

from api.deps import AdminCaller, ClientCaller, DbDep
from schemas.questions import QuestionSetIn, QuestionSetOut
from store.catalog import SessionLock, session_of
from store.questions import replace_question_set

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@router.get("/{session_id}/questions", response_model=QuestionSetOut)
async def read_questions(session_id: str, caller: ClientCaller, db: DbDep) -> QuestionSetOut:
    """What a booking of the session must answer and accept (`POST /v1/bookings`' `answers`
    and `consents`, each consent at the version shown here)."""
    return QuestionSetOut.of(await session_of(db, session_id, caller.organisation_id))


@router.put("/{session_id}/questions", response_model=QuestionSetOut)
async def replace_questions(
    session_id: str, body: QuestionSetIn, caller: AdminCaller, db: DbDep
) -> QuestionSetOut:
    """Replace the questions and consents. Answers already given stay as they were given
    (each is stored with its question's label and type); a consent whose title or text
    changes gets the next version, which bookings from now on must accept."""
    session = await session_of(db, session_id, caller.organisation_id, lock=SessionLock.UPDATE)
    await replace_question_set(
        db,
        session,
        [q.model_dump(mode="json") for q in body.questions],
        [c.model_dump(mode="json") for c in body.consents],
    )
    await db.commit()
    return QuestionSetOut.of(session)
