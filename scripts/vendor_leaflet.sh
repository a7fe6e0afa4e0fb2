#!/usr/bin/env bash
# Copy Leaflet's browser build, and the Leaflet plugins the maps use, into
# gridgis/web/static/vendor/ so the web app serves its own map scripts
# (government intranets have no internet):
#
#   leaflet/              Leaflet            (VERSION, default 1.9.4)
#   leaflet.vectorgrid/   Leaflet.VectorGrid 1.3.0  cells drawn from vector tiles
#   leaflet.heat/         Leaflet.heat       0.2.0  the case heat-map layer
#   leaflet-geoman/       Leaflet-Geoman     2.20.2 lasso, split line and vertex editing
#
# Fetches each published npm tarball (npm pack: no node_modules, no install
# scripts), checks its integrity against the registry's record and, for the
# pinned versions, against the sha512 written below; then replaces the
# vendored folder with the few browser files it needs. Re-runnable: the same
# versions give the same files.
#
# Usage: scripts/vendor_leaflet.sh [VERSION]     (Leaflet's version; default 1.9.4)
set -euo pipefail

VERSION="${1:-1.9.4}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/gridgis/web/static/vendor"

# The tarballs' integrity (sha512, as the npm registry records it) of the pinned versions.
LEAFLET_194_INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
VECTORGRID_VERSION="1.3.0"
VECTORGRID_INTEGRITY="sha512-kWmj1pKM+MVdo/7Mg5zsB3YrGZvo/uIuiANV9MvWUFOG+Y2xAJzrteDhoIcCgTjHSSRJ36xdeGdIQVhuWjnCZw=="
HEAT_VERSION="0.2.0"
HEAT_INTEGRITY="sha512-Cd5PbAA/rX3X3XKxfDoUGi9qp78FyhWYurFg3nsfhntcM/MCNK08pRkf4iEenO1KNqwVPKCmkyktjW3UD+h9bQ=="
GEOMAN_VERSION="2.20.2"
GEOMAN_INTEGRITY="sha512-KQpSe0VKyuVCudq/08rMjJW1vvIwFldTwBny2wZ7ABcyyUAP7/eoFo967hCu9yRqAAHb4QOxC6gY5dGqttY68g=="

command -v npm >/dev/null || { echo "vendor_leaflet: npm is needed (apt-get install npm)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# fetch NAME VERSION EXPECTED_INTEGRITY: unpack the tarball into $WORK/NAME/package and set
# INTEGRITY. An empty EXPECTED_INTEGRITY trusts the registry's record alone.
fetch() {
    local name="$1" version="$2" expected="$3"
    mkdir -p "$WORK/$name"
    (
        cd "$WORK/$name"
        # --json reports the integrity hash of the tarball npm downloaded and verified.
        npm pack "$name@$version" --json --silent >pack.json
        node -e 'const p = require("./pack.json")[0]; process.stdout.write(p.filename)' >filename
        node -e 'const p = require("./pack.json")[0]; process.stdout.write(p.integrity)' >integrity
        tar -xzf "$(cat filename)"
    )
    INTEGRITY="$(cat "$WORK/$name/integrity")"
    if [ -n "$expected" ] && [ "$INTEGRITY" != "$expected" ]; then
        echo "vendor_leaflet: $name@$version has integrity $INTEGRITY, expected $expected" >&2
        exit 1
    fi
    local got
    got="$(node -e 'process.stdout.write(require(process.argv[1]).version)' "$WORK/$name/package/package.json")"
    if [ "$got" != "$version" ]; then
        echo "vendor_leaflet: asked for $name@$version but the tarball holds $got" >&2
        exit 1
    fi
}

# --- Leaflet -----------------------------------------------------------------------------------
EXPECTED=""
if [ "$VERSION" = "1.9.4" ]; then
    EXPECTED="$LEAFLET_194_INTEGRITY"
fi
fetch leaflet "$VERSION" "$EXPECTED"
PKG="$WORK/leaflet/package"
DEST="$VENDOR/leaflet"
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

# --- Leaflet.VectorGrid ------------------------------------------------------------------------
fetch leaflet.vectorgrid "$VECTORGRID_VERSION" "$VECTORGRID_INTEGRITY"
PKG="$WORK/leaflet.vectorgrid/package"
DEST="$VENDOR/leaflet.vectorgrid"
rm -rf "$DEST"
mkdir -p "$DEST"
# The bundled build carries its dependencies (pbf, vector-tile, geojson-vt, topojson-client).
install -m 0644 "$PKG/dist/Leaflet.VectorGrid.bundled.min.js" "$DEST/"
# The package ships no LICENSE file: its licence is the "Legalese" section of its README.
{
    echo "Leaflet.VectorGrid $VECTORGRID_VERSION, from the \"Legalese\" section of its README:"
    echo
    sed -n '/^## Legalese/,$p' "$PKG/README.md" | sed '1d'
    echo
    echo "The bundled build also contains (from the same README):"
    sed -n '/^\* \[geojson-vt\]/,/^\* \[vector-tile\]/p' "$PKG/README.md"
} >"$DEST/LICENSE"

cat >"$DEST/README.md" <<README
# Leaflet.VectorGrid $VECTORGRID_VERSION (vendored)

Copied unchanged by \`scripts/vendor_leaflet.sh\` from the npm package
\`leaflet.vectorgrid@$VECTORGRID_VERSION\` (file
\`dist/Leaflet.VectorGrid.bundled.min.js\`, which includes its dependencies).

- Source: the npm package \`leaflet.vectorgrid@$VECTORGRID_VERSION\` (https://github.com/IvanSanchez/Leaflet.VectorGrid)
- Tarball integrity: $INTEGRITY (pinned in the script)
- Licence: Beerware (the package's own), with BSD and ISC dependencies; see \`LICENSE\`.

Used by \`gridgis/web/static/js/cellmap.js\`, which adds the one shim
Leaflet 1.9 needs (\`L.DomEvent.fakeStop\`, removed in Leaflet 1.8).
README
printf '%s\n' "$VECTORGRID_VERSION" >"$DEST/VERSION"
echo "vendor_leaflet: Leaflet.VectorGrid $VECTORGRID_VERSION copied to ${DEST#"$ROOT"/}"

# --- Leaflet.heat ------------------------------------------------------------------------------
fetch leaflet.heat "$HEAT_VERSION" "$HEAT_INTEGRITY"
PKG="$WORK/leaflet.heat/package"
DEST="$VENDOR/leaflet.heat"
rm -rf "$DEST"
mkdir -p "$DEST"
install -m 0644 "$PKG/dist/leaflet-heat.js" "$DEST/"
install -m 0644 "$PKG/LICENSE" "$DEST/LICENSE"

cat >"$DEST/README.md" <<README
# Leaflet.heat $HEAT_VERSION (vendored)

Copied unchanged by \`scripts/vendor_leaflet.sh\` from the npm package
\`leaflet.heat@$HEAT_VERSION\` (files \`dist/leaflet-heat.js\`, which includes
simpleheat, and \`LICENSE\`).

- Source: the npm package \`leaflet.heat@$HEAT_VERSION\` (https://github.com/Leaflet/Leaflet.heat)
- Tarball integrity: $INTEGRITY (pinned in the script)
- Licence: BSD-2-Clause, see \`LICENSE\` in this folder.
README
printf '%s\n' "$HEAT_VERSION" >"$DEST/VERSION"
echo "vendor_leaflet: Leaflet.heat $HEAT_VERSION copied to ${DEST#"$ROOT"/}"

# --- Leaflet-Geoman (free) ---------------------------------------------------------------------
fetch @geoman-io/leaflet-geoman-free "$GEOMAN_VERSION" "$GEOMAN_INTEGRITY"
PKG="$WORK/@geoman-io/leaflet-geoman-free/package"
DEST="$VENDOR/leaflet-geoman"
rm -rf "$DEST"
mkdir -p "$DEST"
install -m 0644 "$PKG/dist/leaflet-geoman.min.js" "$PKG/dist/leaflet-geoman.css" "$DEST/"
install -m 0644 "$PKG/LICENSE" "$DEST/LICENSE"

cat >"$DEST/README.md" <<README
# Leaflet-Geoman (free) $GEOMAN_VERSION (vendored)

Copied unchanged by \`scripts/vendor_leaflet.sh\` from the npm package
\`@geoman-io/leaflet-geoman-free@$GEOMAN_VERSION\` (files
\`dist/leaflet-geoman.min.js\`, \`dist/leaflet-geoman.css\` and \`LICENSE\`).

- Source: the npm package \`@geoman-io/leaflet-geoman-free@$GEOMAN_VERSION\` (https://github.com/geoman-io/leaflet-geoman)
- Tarball integrity: $INTEGRITY (pinned in the script)
- Licence: MIT, see \`LICENSE\` in this folder.

Used by the hand-editing page (\`gridgis/web/static/js/hand_edit.js\`): drawing a
lasso or a split line, and dragging a cell's vertices.
README
printf '%s\n' "$GEOMAN_VERSION" >"$DEST/VERSION"
echo "vendor_leaflet: Leaflet-Geoman $GEOMAN_VERSION copied to ${DEST#"$ROOT"/}"
