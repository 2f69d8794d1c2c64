"""The database's tables (the enums they check are in core/enums.py)."""
