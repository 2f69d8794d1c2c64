"""Pure renderers for receipts, credit notes, calendar files and emails."""
