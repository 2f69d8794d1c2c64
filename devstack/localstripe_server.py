"""Runs localstripe with its store where we say (it hard-codes /tmp/localstripe.pickle).

`python -m devstack.localstripe_server --port 8420 --store var/localstripe.pickle`; with
`--store none` nothing is written, which also spares the full pickle it dumps on every write.
`--webhook URL --secret S` registers our endpoint (localstripe forgets webhooks on restart).
"""

import argparse
import pickle
import sys
from pathlib import Path

from localstripe import resources, server, webhooks


def _persist_to(path: Path | None) -> None:
    store_class = type(resources.store)

    def load(self: dict[str, object]) -> None:
        if path is not None and path.exists():
            with path.open("rb") as f:
                self.clear()
                self.update(pickle.load(f))

    def dump(self: dict[str, object]) -> None:
        if path is not None:
            with path.open("wb") as f:
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    store_class.try_load_from_disk = load  # type: ignore[attr-defined]
    store_class.dump_to_disk = dump  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--store", default="none", help="pickle file, or 'none'")
    parser.add_argument("--webhook", help="URL that receives signed events")
    parser.add_argument("--secret", help="webhook signing secret")
    args = parser.parse_args()
    _persist_to(None if args.store == "none" else Path(args.store))
    if args.webhook:
        webhooks.register_webhook("booking-engine", args.webhook, args.secret, None)
    sys.argv = [sys.argv[0], "--port", str(args.port)]
    server.start()


if __name__ == "__main__":
    main()
