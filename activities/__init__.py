"""Activities: every piece of I/O the booking workflow does, one module per resource."""
