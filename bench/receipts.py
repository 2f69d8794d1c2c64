"""Receipt rendering in process: the time render_receipt_pdf takes on a realistic receipt."""

import time
from dataclasses import replace

from bench.load import Latency
from documents.receipt_pdf import render_receipt_pdf
from documents.samples import group_receipt

RECEIPTS, WARM_UP = 200, 5


def receipt_rendering() -> Latency:
    """render_receipt_pdf in this process on a five-place group receipt, after a warm-up."""
    data = group_receipt()
    for _ in range(WARM_UP):
        render_receipt_pdf(data)
    durations = []
    for n in range(RECEIPTS):
        receipt = replace(data, number=f"R-2026-{n:04d}")
        began = time.perf_counter()
        render_receipt_pdf(receipt)
        durations.append(time.perf_counter() - began)
    return Latency.of(durations)
