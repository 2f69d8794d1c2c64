"""Settings as the BOOKING_* environment a shell or a container gives a process."""

import json

from core.settings import Settings


def environment(settings: Settings) -> dict[str, str]:
    """BOOKING_* variables that give a process these settings (None as an empty variable)."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            value = ""
        env[f"BOOKING_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env
