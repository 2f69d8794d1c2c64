"""How long checks tell their caller how far they are: (phase, done, total or None)."""

from collections.abc import Callable

Progress = Callable[[str, int, int | None], None]


def tell(progress: Progress | None, phase: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(phase, done, total)
