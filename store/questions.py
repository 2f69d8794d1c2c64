"""A session's questions and consents, replaced as a whole; a consent whose title or text
changes gets the next version, and every version's text is kept (what was agreed to)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import SessionNotFound, parse_id
from models.tables import Session, SessionConsentVersion


async def session_of(
    db: AsyncSession, session_id: str, organisation_id: uuid.UUID | None, *, lock: bool = False
) -> Session:
    """The session (of the organisation, when given: another's is SessionNotFound)."""
    key = parse_id(session_id, SessionNotFound, "session")
    query = select(Session).where(Session.id == key)
    if organisation_id is not None:
        query = query.where(Session.organisation_id == organisation_id)
    session = await db.scalar(query.with_for_update() if lock else query)
    if session is None:
        raise SessionNotFound(f"session {session_id} does not exist")
    return session


async def replace_question_set(
    db: AsyncSession,
    session: Session,
    questions: list[dict[str, Any]],
    consents: list[dict[str, Any]],
) -> Session:
    """Store the set (`consents`: key, title and text each); the caller holds the session's
    row (`session_of(lock=True)`), so two replacements number versions one after the other."""
    session.questions = questions
    session.consents = [await _versioned(db, session.id, consent) for consent in consents]
    await db.flush()
    return session


async def _versioned(
    db: AsyncSession, session_id: uuid.UUID, consent: dict[str, Any]
) -> dict[str, Any]:
    """The consent with its version: the latest one's if its title and text are unchanged,
    else the next, recorded."""
    latest = await db.scalar(
        select(SessionConsentVersion)
        .where(
            SessionConsentVersion.session_id == session_id,
            SessionConsentVersion.key == consent["key"],
        )
        .order_by(SessionConsentVersion.version.desc())
        .limit(1)
    )
    if latest is not None and (latest.title, latest.text) == (consent["title"], consent["text"]):
        return {**consent, "version": latest.version}
    version = (latest.version if latest else 0) + 1
    db.add(SessionConsentVersion(session_id=session_id, version=version, **consent))
    return {**consent, "version": version}
