"""Party building on the grid (党建引领网格治理, issue 19): the members register and its
points, organisations and leaders, 大走访 campaigns and their ledger, 驻区单位 and
联合体, the 三零 communities, and 红心物业 (compounds and how each is managed). The core
computes on the store and on GeoDataFrames; it knows nothing of Flask or the CLI."""
