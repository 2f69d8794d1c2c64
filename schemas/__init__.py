"""The public request and answer shapes, validated alike by the API and the CLI: one module
per resource (bookings, sessions, customers), the error body (problems), and the constrained
types they share (fields)."""
