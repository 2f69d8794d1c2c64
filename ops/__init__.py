"""Operator tools: the consistency checker and the `booking-ops` command line."""
