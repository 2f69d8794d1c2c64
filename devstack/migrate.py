"""Apply the Alembic migrations to a database URL (a subprocess: Alembic runs its own loop)."""

import subprocess
import sys

from core.settings import PROJECT_ROOT


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={database_url}", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        check=True,
    )
