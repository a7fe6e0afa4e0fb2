"""``python -m gridgis.cli``: the same as the ``gridgis`` command."""

from gridgis.cli import main

main()
