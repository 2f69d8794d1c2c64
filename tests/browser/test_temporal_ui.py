"""Seen by a person: headless Chromium opens the Temporal Web UI of this module's dev server,
finds a booking by its BookingStatus, and reads its story (summary, current details, named
timers and activities) and its input, decoded by the API's codec server although Temporal
stores it encrypted. Screenshots of each step are kept under var/test-artifacts/browser/."""

from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, ViewportSize, expect
from temporalio.client import Client

from messages.booking import booking_workflow_id
from tests.browser.conftest import UiStack
from tests.conftest import CLIENT_KEY, SessionFactory
from tests.helpers.api_bookings import booking_body

# One worker runs the module under pytest-xdist: its fixtures start one UI stack and clear the
# screenshots folder once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CUSTOMER = "Zora Quillfeather"
WAIT_MS = 20_000  # the UI is a single-page app: each check waits for it up to this long
expect.set_options(timeout=WAIT_MS)
VIEWPORT: ViewportSize = {"width": 1600, "height": 1125}
TIMES = "\N{MULTIPLICATION SIGN}"


async def test_an_operator_finds_a_booking_and_reads_its_story(
    ui_stack: UiStack, browser: Browser, new_session: SessionFactory, artifacts: Path
) -> None:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    async with httpx.AsyncClient(base_url=ui_stack.api_url, headers=headers, timeout=30) as api:
        booking_id = await _pending_booking(api, await new_session(capacity=4))
        try:
            await _read_in_the_ui(ui_stack, browser, booking_workflow_id(booking_id), artifacts)
        finally:
            # Places held by a workflow the session's Temporal server does not know would look
            # orphaned to anything that checks the shared database against it: release them.
            cancelled = await api.post(f"/v1/bookings/{booking_id}/cancel")
            assert cancelled.status_code in (200, 202), cancelled.text


async def _read_in_the_ui(
    ui_stack: UiStack, browser: Browser, workflow_id: str, artifacts: Path
) -> None:
    # At rest, Temporal holds the customer encrypted: a client without the codec sees no name.
    plain = await Client.connect(ui_stack.settings.temporal_address)
    history = await plain.get_workflow_handle(workflow_id).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert b"Quillfeather" not in stored and b"zora@" not in stored

    # 1600 x 1125 CSS pixels at 0.8: screenshots of 1280 x 900 that show a little more.
    context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=0.8)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    decoded: list[Response] = []
    page.on("response", lambda r: decoded.append(r) if r.url.endswith("/codec/decode") else None)
    try:
        # The list, filtered as an operator would.
        query = quote('BookingStatus="PENDING_PAYMENT"')
        await page.goto(f"{ui_stack.ui_url}/namespaces/default/workflows?query={query}")
        link = page.get_by_role("link", name=workflow_id)
        await expect(link).to_be_visible()
        await _shot(page, artifacts, "1-list-by-status")

        # The booking: its input decoded by the codec server, its history told by summaries.
        await link.click()
        await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()
        await expect(page.locator("body")).to_contain_text(f'"customer_name": "{CUSTOMER}"')
        await expect(page.locator("body")).to_contain_text("hold expires")
        await page.get_by_role("button", name="Compact").click()
        await page.get_by_role("button", name="Descending").click()  # the story from its start
        history_rows = page.get_by_role("row")
        for event_type, named in [
            ("Local Activity", "hold 2 place(s)"),
            ("Local Activity", "create PaymentIntent"),
            ("Timer", "hold expires"),
        ]:
            row = history_rows.filter(has_text=event_type).filter(has_text=named)
            await expect(row).to_have_count(1)
        # The page as docs/temporal-ui-booking.png shows it, from the title to the last event.
        await page.set_viewport_size({"width": VIEWPORT["width"], "height": 1420})
        await _shot(page, artifacts, "2-booking-history")
        await page.set_viewport_size(VIEWPORT)
        assert any(r.ok for r in decoded), "the UI never got an answer from the codec server"

        # Its static summary and current details.
        await page.get_by_role("tab", name="User Metadata").click()
        # The UI renders both as markdown, each in its own frame: the summary's, then the details'.
        await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
        rendered = page.frame_locator("iframe[title='output']")
        summary, details = rendered.first.locator("body"), rendered.last.locator("body")
        await expect(summary).to_contain_text(f"2 {TIMES} Emergency First Aid at Work")
        await expect(summary).not_to_contain_text("Quillfeather")
        await expect(details).to_contain_text("PENDING_PAYMENT")
        await expect(details).to_contain_text("Hold ends")
        await expect(details).to_contain_text("2 place(s)")
        await _shot(page, artifacts, "3-summary-and-details")
    except Exception:
        await _shot(page, artifacts, "failure")
        raise
    finally:
        await context.close()


async def _pending_booking(api: httpx.AsyncClient, session_id: str) -> str:
    body = booking_body(session_id, 2, customer={"name": CUSTOMER, "email": "zora@example.com"})
    created = await api.post("/v1/bookings", json=body, headers={"Idempotency-Key": str(uuid4())})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "PENDING_PAYMENT"
    return str(created.json()["id"])


async def _shot(page: Page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=artifacts / f"{name}.png")
