"""Fixtures of the activity tests."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from core.enums import WebhookEventType
from core.settings import Settings
from tests.api.webhooks_out.helpers import endpoint_on
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.activity_bookings import FORMAT


@pytest.fixture
def inventory(db: async_sessionmaker[AsyncSession]) -> InventoryActivities:
    return InventoryActivities(db, FORMAT)


@pytest.fixture
async def receiver_endpoint(
    db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[WebhookReceiver]:
    """A receiver registered for the default organisation's created and confirmed bookings."""
    events = [WebhookEventType.BOOKING_CREATED, WebhookEventType.BOOKING_CONFIRMED]
    with WebhookReceiver() as receiver:
        async with endpoint_on(db, settings, receiver, "shop", events):
            yield receiver
