#!/usr/bin/env bash
# Copy Leaflet's browser build into gridgis/web/static/vendor/leaflet/ so the
# web app serves its own map scripts (government intranets have no internet).
#
# Fetches the published npm tarball (npm pack, no node_modules, no install
# scripts), checks its integrity against the registry's record, and replaces
# the vendored folder. Re-runnable: the same version gives the same files.
#
# Usage: scripts/vendor_leaflet.sh [VERSION]     (default 1.9.4)
set -euo pipefail

VERSION="${1:-1.9.4}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/gridgis/web/static/vendor/leaflet"

command -v npm >/dev/null || { echo "vendor_leaflet: npm is needed (apt-get install npm)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
# --json reports the integrity hash of the tarball npm downloaded and verified.
npm pack "leaflet@$VERSION" --json --silent >pack.json
TARBALL="$(node -e 'const p = require("./pack.json")[0]; process.stdout.write(p.filename)')"
INTEGRITY="$(node -e 'const p = require("./pack.json")[0]; process.stdout.write(p.integrity)')"
tar -xzf "$TARBALL"

PKG="$WORK/package"
PKG_VERSION="$(node -e 'process.stdout.write(require(process.argv[1]).version)' "$PKG/package.json")"
if [ "$PKG_VERSION" != "$VERSION" ]; then
    echo "vendor_leaflet: asked for $VERSION but the tarball holds $PKG_VERSION" >&2
    exit 1
fi

rm -rf "$DEST"
mkdir -p "$DEST/images"
install -m 0644 "$PKG/dist/leaflet.js" "$PKG/dist/leaflet.css" "$DEST/"
install -m 0644 "$PKG"/dist/images/* "$DEST/images/"
install -m 0644 "$PKG/LICENSE" "$DEST/LICENSE"

cat >"$DEST/README.md" <<README
# Leaflet $VERSION (vendored)

Copied unchanged by \`scripts/vendor_leaflet.sh\` from the npm package
\`leaflet@$VERSION\` (files \`dist/leaflet.js\`, \`dist/leaflet.css\`,
\`dist/images/*\` and \`LICENSE\`).

- Source: the npm package \`leaflet@$VERSION\`, the project's own release (https://leafletjs.com)
- Tarball integrity: $INTEGRITY
- Licence: BSD-2-Clause, see \`LICENSE\` in this folder.

Served by the web app from \`/static/vendor/leaflet/\` so that maps work
without internet. To update, run \`scripts/vendor_leaflet.sh NEW_VERSION\`.
README
printf '%s\n' "$VERSION" >"$DEST/VERSION"

echo "vendor_leaflet: Leaflet $VERSION copied to ${DEST#"$ROOT"/}"
