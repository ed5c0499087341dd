#!/usr/bin/env bash
# Populate solara's CDN proxy cache from the npm registry, so the classroom page (`sim app`) works
# offline: solara's page template otherwise loads these files from jsdelivr at page load.
# Usage: scripts/fetch_solara_assets.sh [DEST]   (default: $VIRTUAL_ENV/share/solara/cdn)
# The versions are the ones solara 1.64.1's template asks for (sim/app/serve.py: BROWSER_PACKAGES).
set -euo pipefail
DEST="${1:-$VIRTUAL_ENV/share/solara/cdn}"
command -v npm >/dev/null || { echo "npm is needed to fetch solara's browser files (apt-get install npm)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for spec in @widgetti/solara-vuetify-app@10.1.1 @widgetti/vue-grid-layout@2.3.13-alpha.2 \
            font-awesome@4.5.0 requirejs@2.3.6; do
  mkdir -p "$DEST/$spec"
  tgz=$(cd "$TMP" && npm pack "$spec" --silent 2>/dev/null | tail -1)
  tar xzf "$TMP/$tgz" -C "$DEST/$spec" --strip-components=1
done
du -sh "$DEST"
