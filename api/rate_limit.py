"""Requests per API key, counted with the `limits` library: 429 with Retry-After past the limit.

Fixed windows: one counter per key and window (O(1) in memory and in Redis alike); a caller can
at worst fit twice its limit across a window boundary. With in-memory counts each API process
counts on its own, so N replicas let a key through up to N times its limit; a shared storage
(`rate_limit_storage_url`, e.g. Redis) makes it one limit for all.
"""

import logging
import math
import time
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from core.settings import Settings

log = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@lru_cache(maxsize=256)
def _item(per_minute: int, window_seconds: int) -> RateLimitItem:
    return RateLimitItemPerSecond(
        max(1, math.ceil(per_minute * window_seconds / 60)), window_seconds
    )


class KeyRateLimiter:
    """One limiter per API process, over the storage the settings name."""

    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(settings.rate_limit_storage_url)
        if not isinstance(storage, Storage):
            raise ValueError("rate_limit_storage_url must name an async storage (async+...://)")
        self._limiter = FixedWindowRateLimiter(storage)
        self._default = settings.rate_limit_per_minute
        self._window = settings.rate_limit_window_seconds

    async def hit(self, key_id: str, per_minute: int | None) -> None:
        """Count one request of this key; RateLimited if it is over its limit.

        If the storage fails (a shared one unreachable), the request goes through: the limit
        protects the service, it must not take it down.
        """
        item = _item(per_minute or self._default, self._window)
        try:
            if await self._limiter.hit(item, key_id):
                return
            stats = await self._limiter.get_window_stats(item, key_id)
        except Exception as err:  # each storage raises its own kinds
            log.warning("rate limit storage failed, request let through: %r", err)
            return
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))
