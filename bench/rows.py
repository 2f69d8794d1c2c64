"""A row of the printed table: a figure, what was measured, its budget and the verdict."""

from dataclasses import dataclass

from bench.load import Latency


@dataclass
class Row:
    figure: str
    measured: str
    budget: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: ""}[self.passed]


def ms(latency: Latency) -> str:
    return f"{latency.p50_ms:.0f} / {latency.p95_ms:.0f} / {latency.p99_ms:.0f} ms"
