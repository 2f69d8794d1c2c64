"""Receipt data for the document tests: the samples' group receipt, and its credit note."""

from dataclasses import replace
from datetime import UTC, datetime

from core.enums import DocumentKind
from documents.receipt_data import ReceiptData, ReceiptLine
from documents.samples import group_receipt


def credit_note() -> ReceiptData:
    return replace(
        group_receipt(),
        kind=DocumentKind.CREDIT_NOTE,
        number="CN-2026-0007",
        refers_to="R-2026-0042",
        issued_at=datetime(2026, 4, 2, 10, 0, tzinfo=UTC),
        paid_at=datetime(2026, 4, 2, 10, 0, 5, tzinfo=UTC),
        lines=[ReceiptLine("Place: Sourdough for beginners", 5, -7_500, -37_500)],
        discount_amount=-3_750,
        total=-33_750,
    )
