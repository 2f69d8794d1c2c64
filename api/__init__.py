"""The HTTP API: a thin layer that starts, queries, signals and updates booking workflows."""
