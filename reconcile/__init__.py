"""The reconcile engine: reads PostgreSQL, Temporal and Stripe and judges them
against the invariants; `booking-ops reconcile` and the safety net use it."""
