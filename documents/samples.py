"""A realistic receipt (five places, group discount, VAT included), shared by tests and bench."""

from datetime import UTC, datetime

from core.enums import DocumentKind
from documents.receipt_data import ReceiptData, ReceiptLine, Seller

SELLER = Seller(
    name="Riverside Fermentation Taproom Ltd",
    address_lines=["12 Quay Street", "Bristol BS1 4DJ", "United Kingdom"],
    vat_number="GB123456789",
)
ATTENDEES = ["Ada Lovelace", "Charles Babbage", "Mary Somerville", "John Herschel", "Ida Rhodes"]


def group_receipt() -> ReceiptData:
    return ReceiptData(
        kind=DocumentKind.RECEIPT,
        number="R-2026-0042",
        refers_to=None,
        booking_reference="RFT-2026-0042",
        issued_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        paid_at=datetime(2026, 3, 1, 9, 29, 12, tzinfo=UTC),
        seller=SELLER,
        customer_name="Ada Lovelace",
        customer_email="ada@example.com",
        session_title="Sourdough for beginners",
        session_location="Kitchen 2, 12 Quay Street, Bristol",
        session_starts_at=datetime(2026, 4, 14, 18, 0, tzinfo=UTC),
        session_ends_at=datetime(2026, 4, 14, 21, 30, tzinfo=UTC),
        attendees=ATTENDEES,
        lines=[ReceiptLine("Place: Sourdough for beginners", 5, 7_500, 37_500)],
        discount_description="Group discount: 10% off 5 or more places",
        discount_amount=3_750,
        total=33_750,
        currency="GBP",
        vat_rate_basis_points=2000,
        prices_include_vat=True,
        card_brand="visa",
        card_last4="4242",
    )
