"""A customer's personal data in the caller's organisation (admin): export it, or erase it from
the bookings that are over. The email travels in the body, never in a URL or a log line."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from api.deps import AdminCaller, DbDep, TemporalDep
from clients.workflow_rest import busy_bookings
from schemas.customers import CustomerIn, ErasureOut
from store.personal_data import erase_customer, export_customer

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.post("/export", response_model=dict[str, Any])
async def export(body: CustomerIn, caller: AdminCaller, db: DbDep) -> dict[str, Any]:
    """Everything held about the customer: bookings, emails sent, receipts and credit notes."""
    return await export_customer(db, caller.organisation_id, body.email)


@router.post("/erase", response_model=ErasureOut)
async def erase(
    body: CustomerIn, caller: AdminCaller, db: DbDep, temporal: TemporalDep
) -> ErasureOut:
    """Names, emails and attendees' details of closed bookings replaced; receipts and credit
    notes kept (accounting law); open bookings, and closed ones whose last email or webhooks
    are still on their way (`settling`), listed and left as they are: ask again later."""
    erasure = await erase_customer(
        db, caller.organisation_id, body.email, lambda ids: busy_bookings(temporal, ids)
    )
    await db.commit()
    return ErasureOut(**asdict(erasure))
