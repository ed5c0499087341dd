#!/usr/bin/env bash
# Install the system packages the browser tests and the classroom page need, only those missing:
#   Debian's chromium and chromium-driver (Playwright drives /usr/bin/chromium; a tool's own browser
#   download cannot work offline), and npm (to fetch solara's browser files) only when there is none.
# Machines of this kind ship Node.js and npm from NodeSource; Debian's npm conflicts with that
# Node.js, so it is never installed beside it.
# Usage: scripts/system_deps.sh [--check]   (--check: print what would be installed and exit 1 if any)
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if ! command -v npm >/dev/null 2>&1; then
  if command -v node >/dev/null 2>&1; then
    echo "system-deps: Node.js is installed ($(command -v node)) but npm is not." >&2
    echo "system-deps: Debian's npm package would conflict with this Node.js; install npm from the same" >&2
    echo "system-deps: source as Node.js (for NodeSource: it ships npm inside the nodejs package)." >&2
    exit 1
  fi
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "system-deps: missing ${missing[*]}"
  exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "system-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "system-deps: no apt-get here; install these yourself, then re-run: ${missing[*]}" >&2; exit 1; }

echo "system-deps: installing ${missing[*]} (Debian packages)"
if ! $SUDO apt-get update -qq; then
  echo "system-deps: 'apt-get update' failed; check the network access to Debian's mirrors" >&2; exit 1
fi
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "system-deps: 'apt-get install ${missing[*]}' failed (see above)." >&2; exit 1
fi
for exe in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$exe" ] || { echo "system-deps: $exe is still missing after the install" >&2; exit 1; }
done
command -v npm >/dev/null 2>&1 || { echo "system-deps: npm is still missing after the install" >&2; exit 1; }
/usr/bin/chromium --version
