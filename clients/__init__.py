"""Callers of workflows through the Temporal client (API, CLI, tests).

Workflow code never imports these: they talk to the Temporal service."""
