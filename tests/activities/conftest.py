"""Fixtures of the activity tests."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.inventory import InventoryActivities
from core.enums import WebhookEventType
from core.settings import Settings
from tests.api.webhooks_out.helpers import endpoint_on
from tests.conftest import OTHER_ORGANISATION_ID
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.helpers.sellers import OTHER_PROFILE, png_logo, seller_profile


@pytest.fixture
def inventory(db: async_sessionmaker[AsyncSession]) -> InventoryActivities:
    return InventoryActivities(db)


@pytest.fixture
async def receiver_endpoint(
    db: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[WebhookReceiver]:
    """A receiver registered for the default organisation's created and confirmed bookings."""
    events = [WebhookEventType.BOOKING_CREATED, WebhookEventType.BOOKING_CONFIRMED]
    with WebhookReceiver() as receiver:
        async with endpoint_on(db, settings, receiver, "shop", events):
            yield receiver


@pytest.fixture
async def other_seller(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """The second test organisation with a complete seller profile and a PNG logo, for the
    test; its profile as it was after it."""
    profile = {**OTHER_PROFILE, "logo": png_logo(), "logo_content_type": "image/png"}
    async with seller_profile(db, OTHER_ORGANISATION_ID, **profile):
        yield
