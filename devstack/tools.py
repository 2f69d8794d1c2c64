"""Where the project's own tool binaries live (git-ignored, installed by scripts/bootstrap.sh)."""

import shutil
import subprocess
from pathlib import Path

from core.settings import PROJECT_ROOT

TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"
TEMPORAL_VERSION = "1.5.1"


def temporal_cli() -> Path:
    """The project's Temporal CLI, else a compatible one on PATH."""
    local = TOOLS_BIN / "temporal"
    if local.exists():
        return local
    found = shutil.which("temporal")
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        if f"version {TEMPORAL_VERSION}" in version:
            return Path(found)
    raise FileNotFoundError(
        f"Temporal CLI {TEMPORAL_VERSION} is missing: run `make setup` (scripts/bootstrap.sh)"
    )
