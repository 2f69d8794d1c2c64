"""Tests of the pure renderers: receipts, credit notes, calendar files, emails."""
