"""A session's refund policy: how much of what remains paid a cancellation gives back, by date."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RefundTier:
    """`percent` of what remains paid is refunded until `days_before` days before the start.

    "Until" includes the moment itself: exactly `days_before` days before the start, the tier
    still applies.
    """

    days_before: int
    percent: int


# Today's behaviour, and the policy of sessions created without one: full refund until the start.
DEFAULT_POLICY: tuple[RefundTier, ...] = (RefundTier(days_before=0, percent=100),)


def refund_percent(policy: list[RefundTier], starts_at: datetime, now: datetime) -> int:
    """The best tier still open at `now`; 0 once every tier's moment has passed."""
    open_tiers = [t.percent for t in policy if now <= starts_at - timedelta(days=t.days_before)]
    return max(open_tiers, default=0)


def refund_amount(amount: int, percent: int) -> int:
    """`percent` of `amount` in minor units, rounded down (never more than the policy says)."""
    return amount * percent // 100


def tiers_of(stored: list[dict[str, int]] | None) -> list[RefundTier]:
    """The policy as stored in `sessions.refund_policy` (NULL: the default)."""
    if stored is None:
        return list(DEFAULT_POLICY)
    return [RefundTier(t["days_before"], t["percent"]) for t in stored]
