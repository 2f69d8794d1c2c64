"""The webhooks-out fixtures (a receiving server, endpoints registered on it), for the tests of
a session's changes."""

from tests.api.webhooks_out.conftest import admin, receiver, register

__all__ = ["admin", "receiver", "register"]
