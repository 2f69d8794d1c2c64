#!/usr/bin/env bash
# Installs what the project needs and a fresh machine lacks; skips whatever is already there.
#   - Python dependencies in .venv (from pyproject.toml)
#   - Temporal CLI v1.5.1 built with `go install` into .tools/bin (needs Go >= 1.25)
#   - PostgreSQL server binaries, poppler-utils and zbar-tools (Debian packages; the last two
#     let the tests look at a rendered receipt and read its QR code back), and chromium (the
#     browser test drives /usr/bin/chromium with Playwright, which downloads no browser), and
#     the fonts receipts embed (fonts-dejavu-core; fonts-droid-fallback for Chinese, Japanese
#     and Korean names; documents/fonts.py reads them at these Debian paths)
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_VERSION=1.5.1
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
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  rm -f .venv/.installed-* && touch "$stamp"
fi

# --- Temporal CLI --------------------------------------------------------------------------
has_temporal() { "$1" --version 2>/dev/null | grep -q "version $TEMPORAL_VERSION"; }
if ! has_temporal "$TOOLS_BIN/temporal" && ! { command -v temporal >/dev/null && has_temporal temporal; }; then
  command -v go >/dev/null || fail "Go >= 1.25 is required to build the Temporal CLI: go is not installed"
  go_version=$(go env GOVERSION | sed 's/^go//')
  printf '1.25\n%s\n' "$go_version" | sort -V -C \
    || fail "Go >= 1.25 is required to build the Temporal CLI, found $go_version"
  echo "bootstrap: building Temporal CLI v$TEMPORAL_VERSION (a few minutes the first time)"
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install \
    -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION"
fi
echo "bootstrap: ready"
