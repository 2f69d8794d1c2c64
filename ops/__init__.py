"""Operator tools: the `booking-ops` command line (`reconcile` runs the engine in reconcile/)."""
