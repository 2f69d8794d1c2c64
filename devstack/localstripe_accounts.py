"""localstripe's store, one per Stripe account (see devstack/localstripe_server.py).

localstripe keeps every object in one module-level dict (`localstripe.resources.store`);
`AccountStores` stands in for it and hands each request the store of its account, chosen by a
context variable (`account`) that the server's middleware sets. asyncio copies the context into
the tasks a request starts, so what localstripe finishes later (a charge settling, an event
sent) stays on the request's account.
"""

import pickle
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from localstripe import resources

PLATFORM = ""  # the account of requests without a Stripe-Account header

account: ContextVar[str] = ContextVar("stripe_account", default=PLATFORM)


class AccountStores(MutableMapping[str, Any]):
    """The mapping operations act on the store of the current account (made when first
    named); persistence writes (and reads) all of them."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stores: dict[str, dict[str, Any]] = {}

    def _current(self) -> dict[str, Any]:
        return self._stores.setdefault(account.get(), {})

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._current()[key] = value
        self.dump_to_disk()

    def __delitem__(self, key: str) -> None:
        del self._current()[key]
        self.dump_to_disk()

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def clear(self) -> None:
        """localstripe's `DELETE /_config/data`: every account's objects go."""
        self._stores.clear()
        self.dump_to_disk()

    def try_load_from_disk(self) -> None:
        if self._path is None or not self._path.exists():
            return
        with self._path.open("rb") as f:
            saved = pickle.load(f)
        # A store written before accounts were kept apart holds the platform's objects.
        self._stores = {PLATFORM: dict(saved)} if isinstance(saved, resources.Store) else saved

    def dump_to_disk(self) -> None:
        if self._path is not None:
            with self._path.open("wb") as f:
                pickle.dump(self._stores, f, protocol=pickle.HIGHEST_PROTOCOL)
