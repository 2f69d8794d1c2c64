#!/usr/bin/env bash
# `make dev`: the whole system on this machine, data kept under var/ between runs. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python -m devstack.dev prepare
trap '.venv/bin/python -m devstack.dev stop' EXIT
cat <<'BANNER'

  API            http://127.0.0.1:8000        (docs: http://127.0.0.1:8000/docs)
  Temporal UI    http://127.0.0.1:8233        (payloads decoded by the API's codec server)
  localstripe    http://127.0.0.1:8420
  PostgreSQL     postgresql://booking@127.0.0.1:55432/booking
  API keys       client: dev-client-key    admin: dev-admin-key
  Pay a booking  .venv/bin/python -m scripts.pay <booking id>

BANNER
.venv/bin/honcho start -f Procfile
