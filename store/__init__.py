"""Reads and writes of the bookings database, one module per resource."""
