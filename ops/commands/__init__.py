"""The command groups of `booking-ops`, one module each; `ops.cli` mounts them."""
