"""Release command: write the API's OpenAPI document to `openapi.json` (what GET /openapi.json
serves), so clients can be generated from the repository and a change to the API shows in review.

    .venv/bin/python -m scripts.openapi            # or `make openapi`

tests/api/test_openapi.py fails while the committed file and the served document differ.
"""

import json
from pathlib import Path
from typing import Any

from api.main import create_app
from core.settings import PROJECT_ROOT, Settings

DOCUMENT = PROJECT_ROOT / "openapi.json"


def served_document() -> dict[str, Any]:
    """The document the API serves (it depends on no setting; dev defaults build the app)."""
    return create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]


def write(path: Path = DOCUMENT) -> None:
    path.write_text(json.dumps(served_document(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
    print(f"openapi: wrote {DOCUMENT.relative_to(PROJECT_ROOT)}")
