"""Customer emails: every kind renders, HTML is escaped, refund emails name their amount."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.enums import EmailKind
from documents.emails import TEMPLATES, EmailContext, render_email

CONTEXT = EmailContext(
    customer_name="Ada Lovelace",
    booking_reference="RFT-2026-0042",
    booking_id="7f3c2a10-booking",
    session_title="Sourdough for beginners",
    session_location="Kitchen 2, 12 Quay Street, Bristol",
    session_starts_at=datetime(2026, 4, 14, 18, 0, tzinfo=UTC),
    session_ends_at=datetime(2026, 4, 14, 21, 30, tzinfo=UTC),
    amount_total=33_750,
    currency="GBP",
    refund_amount=33_750,
    seller_name="Riverside Fermentation Taproom",
    attendee_name="Grace Hopper",  # a certificate's email names its attendee
)


@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_kind_has_its_templates(kind: EmailKind) -> None:
    assert (TEMPLATES / f"{kind}.html.j2").is_file()
    assert (TEMPLATES / f"{kind}.txt.j2").is_file()


@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_kind_names_the_session_and_reference(kind: EmailKind) -> None:
    email = render_email(kind, CONTEXT)
    for part in (email.subject, email.html, email.text):
        assert "Sourdough for beginners" in part
        assert "RFT-2026-0042" in part
    assert "Ada Lovelace" in email.html and "Ada Lovelace" in email.text
    assert "Tue 14 Apr 2026, 18:00 UTC" in email.text
    assert email.html.lstrip().startswith("<!doctype html>")
    assert "\n" not in email.subject


@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_kind_renders_before_there_is_a_reference(kind: EmailKind) -> None:
    email = render_email(kind, replace(CONTEXT, booking_reference=None))
    assert "Sourdough for beginners" in email.subject
    assert "None" not in email.subject + email.html + email.text
    assert "7f3c2a10-booking" in email.text


def test_amounts_are_formatted() -> None:
    assert "£337.50" in render_email(EmailKind.CONFIRMATION, CONTEXT).text
    partial = replace(CONTEXT, refund_amount=16_875)
    assert "£168.75" in render_email(EmailKind.REFUNDED, partial).html
    assert "£168.75" in render_email(EmailKind.CANCELLED, partial).text
    no_refund = render_email(EmailKind.CANCELLED, replace(CONTEXT, refund_amount=None))
    assert "refund" not in no_refund.text.lower()


def test_a_free_booking_is_confirmed_without_a_payment_received() -> None:
    email = render_email(EmailKind.CONFIRMATION, replace(CONTEXT, amount_total=0))
    for part in (email.html, email.text):
        assert "There was nothing to pay." in part and "payment" not in part
    paid = render_email(EmailKind.CONFIRMATION, CONTEXT)
    assert "We received your payment of £337.50." in paid.text


def test_html_escapes_what_customers_type() -> None:
    hostile = replace(CONTEXT, customer_name="<script>alert('x')</script>", session_title="R&D")
    email = render_email(EmailKind.CONFIRMATION, hostile)
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "R&amp;D" in email.html
    assert "<script>alert('x')</script>" in email.text
    assert "R&D" in email.subject


def test_a_newline_in_the_title_never_reaches_the_subject() -> None:
    email = render_email(
        EmailKind.CONFIRMATION, replace(CONTEXT, session_title="Bread\r\nBcc: x@y.z")
    )
    assert "\r" not in email.subject and "\n" not in email.subject


def test_refund_emails_need_the_refund_amount() -> None:
    with pytest.raises(ValueError):
        render_email(EmailKind.REFUNDED, replace(CONTEXT, refund_amount=None))


def test_times_are_the_sessions_local_time_with_its_zone() -> None:
    winter = replace(
        CONTEXT,
        session_starts_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        session_ends_at=datetime(2026, 12, 3, 17, 0, tzinfo=UTC),
        session_time_zone="Europe/London",
    )
    email = render_email(EmailKind.REMINDER, winter)
    assert "Thu 3 Dec 2026, 09:00 GMT" in email.text and "17:00 GMT" in email.html
    assert email.subject.startswith("Reminder: Sourdough for beginners starts Thu 3 Dec 2026")
    summer = render_email(
        EmailKind.CONFIRMATION, replace(CONTEXT, session_time_zone="Europe/London")
    )
    assert "Tue 14 Apr 2026, 19:00 BST" in summer.text
    tokyo = render_email(
        EmailKind.CONFIRMATION, replace(CONTEXT, session_time_zone="Asia/Tokyo", locale="en_US")
    )
    assert "Wed 15 Apr 2026, 03:00 +0900" in tokyo.text and "£337.50" in tokyo.text


def test_a_certificates_email_names_its_attendee_and_needs_one() -> None:
    email = render_email(EmailKind.CERTIFICATE, CONTEXT)
    assert "Grace Hopper" in email.text and "Grace Hopper" in email.html
    with pytest.raises(ValueError, match="attendee_name"):
        render_email(EmailKind.CERTIFICATE, replace(CONTEXT, attendee_name=None))
