"""A session's bookings as a CSV file, for its organiser (admin keys)."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AdminCaller, DbDep
from core.questions import Question, questions_of
from documents import bookings_csv
from store.booking_records import BookingFilter, all_bookings
from store.catalog import get_session

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

# Rows read from the database per query while the file streams.
PAGE_SIZE = 500
_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 with a byte order mark, one line per booking, oldest first",
    }
}


@router.get("/{session_id}/bookings.csv", response_class=StreamingResponse, responses=_CSV)
async def bookings_csv_file(session_id: str, caller: AdminCaller, db: DbDep) -> StreamingResponse:
    """Every booking of the session (all statuses), streamed a page at a time: reference,
    status, customer, seats, amounts in minor units with the currency, times in ISO 8601, the
    consents accepted, then one column per question of the session (`answer:<key>`)."""
    session, _ = await get_session(db, session_id, caller.organisation_id)
    where = BookingFilter(caller.organisation_id, session_id=session.id)
    filename = f"session-{session.id}-bookings.csv"
    return StreamingResponse(
        _lines(db, where, questions_of(session.questions)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _lines(
    db: AsyncSession, where: BookingFilter, questions: list[Question]
) -> AsyncIterator[str]:
    yield bookings_csv.BOM + bookings_csv.header(questions)
    async for page in all_bookings(db, where, PAGE_SIZE):
        yield bookings_csv.rows(page, questions)
