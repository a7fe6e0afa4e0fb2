"""`gridgis party`: the one command group of party building on the grid (issue 19).

Its commands come from the modules of each part: :mod:`gridgis.cli.party_units`
(``alliances``, ``sanling-categories``), :mod:`gridgis.cli.party_members`
(``rules``, ``ranking``) and :mod:`gridgis.cli.party_work` (``campaigns``, ``needs``),
each attached here.
"""

from __future__ import annotations

import click

__all__ = ["party_group"]


@click.group("party")
def party_group() -> None:
    """Party building on the grid: 大走访 campaigns, the needs list, points rules and ranking
    (党员积分), 联合体 of 驻区单位, the 三零 communities' categories."""
