"""Booking questions and consents (issue 23)."""
