#!/usr/bin/env bash
# Installs what the project needs and a fresh machine lacks; skips whatever is already there.
#   - Python dependencies in .venv from the lock, requirements-dev.lock (exact versions and
#     hashes; `make lock` rewrites it from pyproject.toml), then the project itself, editable
#   - Temporal CLI v1.5.1 and Helm v4.3.2 built with `go install` into .tools/bin (needs
#     Go >= 1.25; Helm renders the chart in deploy/helm for tests/deploy)
#   - PostgreSQL server binaries, poppler-utils and zbar-tools (Debian packages; the last two
#     let the tests look at a rendered receipt and read its QR code back), and chromium (the
#     browser test drives /usr/bin/chromium with Playwright, which downloads no browser), and
#     the fonts receipts embed (fonts-dejavu-core; fonts-droid-fallback for Chinese, Japanese
#     and Korean names; documents/fonts.py reads them at these Debian paths)
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_VERSION=1.5.1
HELM_VERSION=4.3.2
TOOLS_BIN="$PWD/.tools/bin"

fail() { echo "bootstrap: $*" >&2; exit 1; }

apt_install() {  # apt_install PACKAGE...: as root installs, otherwise says the exact command
  if [ "$(id -u)" -ne 0 ]; then
    fail "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y $*"
  fi
  echo "bootstrap: installing $* with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Debian packages ---------------------------------------------------------------------
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || missing+=(fonts-droid-fallback)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# --- Python ------------------------------------------------------------------------------
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "Python >= 3.11 is required, found $(python3 --version 2>&1)"
stamp=".venv/.installed-$(cat pyproject.toml requirements-dev.lock | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --require-hashes -r requirements-dev.lock
  # setuptools is in the lock: building the project needs nothing more from the index.
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  rm -f .venv/.installed-* && touch "$stamp"
fi

# --- Go tools: Temporal CLI, Helm -----------------------------------------------------------
need_go() {  # need_go WHAT: Go >= 1.25 is there, or stop saying what needed it
  command -v go >/dev/null || fail "Go >= 1.25 is required to build $1: go is not installed"
  go_version=$(go env GOVERSION | sed 's/^go//')
  printf '1.25\n%s\n' "$go_version" | sort -V -C \
    || fail "Go >= 1.25 is required to build $1, found $go_version"
  mkdir -p "$TOOLS_BIN"
}

has_temporal() { "$1" --version 2>/dev/null | grep -q "version $TEMPORAL_VERSION"; }
if ! has_temporal "$TOOLS_BIN/temporal" && ! { command -v temporal >/dev/null && has_temporal temporal; }; then
  need_go "the Temporal CLI"
  echo "bootstrap: building Temporal CLI v$TEMPORAL_VERSION (a few minutes the first time)"
  GOBIN="$TOOLS_BIN" go install \
    -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION"
fi

if [ "$("$TOOLS_BIN/helm" version --template '{{.Version}}' 2>/dev/null)" != "v$HELM_VERSION" ]; then
  need_go "Helm"
  echo "bootstrap: building Helm v$HELM_VERSION (a few minutes the first time)"
  GOBIN="$TOOLS_BIN" go install \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION"
fi
echo "bootstrap: ready"
