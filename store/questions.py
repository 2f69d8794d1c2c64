"""A session's questions and consents, replaced as a whole; a consent whose title or text
changes gets the next version, and every version's text is kept (what was agreed to)."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import Session, SessionConsentVersion


async def replace_question_set(
    db: AsyncSession,
    session: Session,
    questions: list[dict[str, Any]],
    consents: list[dict[str, Any]],
) -> Session:
    """Store the set (`consents`: key, title and text each); the caller holds the session's
    row locked (`store.catalog.session_of`, `SessionLock.UPDATE`), so two replacements number
    versions one after the other."""
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
