"""Steps shared by the tests of every directory: polling for a condition, bookings made through
the API or the workflow's messages, emails at rest, signed Stripe events, the bundled servers.

Test modules import from here, from `tests.fakes` and from conftest constants; never from
another test module."""
