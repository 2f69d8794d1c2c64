"""The test database's schema, moved by alembic as an operator would."""

import subprocess
import sys

from core.settings import PROJECT_ROOT


def alembic(url: str, *command: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", *command],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
