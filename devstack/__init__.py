"""Starts the real components (PostgreSQL, Temporal, localstripe) for dev, tests, bench."""
