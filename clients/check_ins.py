"""Tell a booking's workflow of a check-in, so its history shows who came (the row in
`check_ins` is written first and decides; a lost message is sent again at the next scan)."""

import asyncio
import logging

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.errors import ServiceUnavailable
from messages.booking import AttendeeCheckedIn, booking_workflow_id
from workflows.booking import BookingWorkflow

log = logging.getLogger(__name__)


async def tell_booking(
    temporal: Client, booking_id: str, note: AttendeeCheckedIn, within: float
) -> None:
    """Signal the booking's workflow; one that has ended (its session is over) is not told."""
    handle = temporal.get_workflow_handle(booking_workflow_id(booking_id))
    try:
        async with asyncio.timeout(within):
            await handle.signal(BookingWorkflow.checked_in, note)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise ServiceUnavailable(
                f"checked in, but the booking could not be told ({err.status.name}): scan again"
            ) from err
        log.info("check-in of booking %s after its workflow ended", booking_id)
    except TimeoutError:
        raise ServiceUnavailable(
            "checked in, but Temporal did not take it in time: scan again"
        ) from None
