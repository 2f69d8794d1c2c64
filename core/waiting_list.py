"""The waiting list's rules, pure: who is offered the places that came back, until when, and
the offer's accept token.

Fairness (`choose_offers`): entries are served in join order, each only with its whole group
(a group of 4 is never offered 3 places), and the first entry whose group fits the free places
is offered them, even when entries ahead of it do not fit. Each time that happens, each entry
ahead of it that did not fit is counted as skipped once. An entry skipped `SKIPS_BEFORE_PRIORITY`
times (3) is served first: priority entries come before the others (in join order among
themselves), and a priority entry that does not fit yet keeps the places that come back for
itself (all of them for a number of places; its own seats for named seats) until its group
fits. So singles pass a group at most three times, and the group is then served as soon as
enough places have come back; the singles behind it wait for that, not for ever.
"""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SKIPS_BEFORE_PRIORITY = 3

_TOKEN_PURPOSE = b"waiting-list-offer"


@dataclass(frozen=True)
class Candidate:
    """A WAITING entry, as the rule reads it."""

    entry_id: str
    quantity: int
    seat_labels: tuple[str, ...]  # named seats asked for; () for any places
    skipped: int

    @property
    def has_priority(self) -> bool:
        return self.skipped >= SKIPS_BEFORE_PRIORITY


@dataclass(frozen=True)
class Choice:
    offers: dict[str, list[str]]  # entry id -> the places offered to it
    skipped: list[str]  # entries passed over by a later one this time


def choose_offers(waiting: Sequence[Candidate], free: Sequence[str]) -> Choice:
    """Who is offered which of the `free` places (in their order), by the rule above;
    `waiting` is in join order."""
    pool = list(free)
    kept: set[str] = set()  # places a priority entry keeps for itself
    offers: dict[str, list[str]] = {}
    passed: list[str] = []
    skipped: dict[str, None] = {}
    order = [c for c in waiting if c.has_priority] + [c for c in waiting if not c.has_priority]
    for candidate in order:
        usable = [label for label in pool if label not in kept]
        places = _fit(candidate, usable)
        if places is None:
            passed.append(candidate.entry_id)
            if candidate.has_priority:
                if not candidate.seat_labels:
                    break  # every place that comes back is its own until it fits
                kept.update(candidate.seat_labels)
            continue
        offers[candidate.entry_id] = places
        pool = [label for label in pool if label not in places]
        skipped.update(dict.fromkeys(passed))
    return Choice(offers, list(skipped))


def _fit(candidate: Candidate, usable: list[str]) -> list[str] | None:
    if candidate.seat_labels:
        wanted = set(candidate.seat_labels)
        return sorted(wanted, key=candidate.seat_labels.index) if wanted <= set(usable) else None
    return usable[: candidate.quantity] if len(usable) >= candidate.quantity else None


def offer_deadline(now: datetime, offer_seconds: int, starts_at: datetime) -> datetime:
    """When an offer made `now` lapses: `offer_seconds` on, never past the session's start
    (the end of its sales)."""
    return min(now + timedelta(seconds=offer_seconds), starts_at)


def offer_token(secret: str, entry_id: str, offer_number: int) -> str:
    """The accept token of an entry's `offer_number`-th offer, sent in its email."""
    key = hmac.new(secret.encode(), _TOKEN_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, f"{entry_id}:{offer_number}".encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """What the entry stores of its token: a leaked row accepts nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
