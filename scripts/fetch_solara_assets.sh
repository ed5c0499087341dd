#!/usr/bin/env bash
# Populate solara's CDN proxy cache from the npm registry, so the classroom page (`sim app`) works
# offline: solara's page template otherwise loads these files from jsdelivr at page load.
# Usage: scripts/fetch_solara_assets.sh [DEST]   (default: $VIRTUAL_ENV/share/solara/cdn)
# The versions are the ones solara 1.64.1 asks for (its page template, and echarts.vue for the charts),
# plus world-atlas (Natural Earth country shapes for the page's world map, read by sim/app/worldmap.py).
# Keep in step with sim/app/serve.py: BROWSER_PACKAGES (tests/test_app.py checks it).
set -euo pipefail
DEST="${1:-$VIRTUAL_ENV/share/solara/cdn}"
command -v npm >/dev/null || { echo "npm is needed to fetch solara's browser files (apt-get install npm)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for spec in @widgetti/solara-vuetify-app@10.1.1 @widgetti/vue-grid-layout@2.3.13-alpha.2 \
            font-awesome@4.5.0 requirejs@2.3.6 echarts@5.4.0 world-atlas@2.0.2; do
  [ -f "$DEST/$spec/package.json" ] && continue  # already there (make app-assets re-runs when this script changes)
  tgz=$(cd "$TMP" && npm pack "$spec" --silent 2>/dev/null | tail -1)
  [ -n "$tgz" ] && [ -f "$TMP/$tgz" ] || { echo "npm pack $spec failed (is the npm registry reachable?)" >&2; exit 1; }
  # unpacked beside, then moved in whole: an interrupted run never leaves a package that looks complete
  mkdir -p "$TMP/unpacked" "$(dirname "$DEST/$spec")"
  rm -rf "$TMP/unpacked/$spec" && mkdir -p "$TMP/unpacked/$spec"
  tar xzf "$TMP/$tgz" -C "$TMP/unpacked/$spec" --strip-components=1
  rm -rf "${DEST:?}/$spec" && mv "$TMP/unpacked/$spec" "$DEST/$spec"
done
du -sh "$DEST"
