"""The ``gridgis`` command: parses, calls the library, prints. No logic of its own.

One module per command group, each defining its click group or command
with the name it is registered under; this file holds only the root group
:func:`main` and the list that registers them:

=================  ==========================================================
module             commands
=================  ==========================================================
``db``             ``gridgis db status | start | stop | upgrade | reset``
``imports``        ``gridgis import boundaries | roads | divisions | cases | inspections``
``registers``      ``gridgis import buildings | households | units`` (attached to ``import``)
``rosters``        ``gridgis import workers | branches | facilities``, ``gridgis template``
``cells``          ``gridgis cells draw | adjust | history``
``partition``      ``gridgis partition``, ``gridgis validate`` (on files)
``demo``           ``gridgis demo``
``convert``        ``gridgis convert``
``serve``          ``gridgis serve``
``config``         ``gridgis config``
``cases``          ``gridgis cases show | advance | stats | deadlines``
``users``          ``gridgis users add | list | remove | password | token``
``open311``        ``gridgis open311 key add | list | revoke``
``audit``          ``gridgis audit``
``export``         ``gridgis export cells | cases | inspections | stats``
``jobs``           ``gridgis jobs worker`` (the background exports of the web app)
``departments``    ``gridgis departments add | list | rule | rules | webhook``
``notices``        ``gridgis notices sweep | deliver``
``photos``         ``gridgis photos migrate | check`` (the photo stores)
``party``          the ``gridgis party`` group, which the next three fill
``party_work``     ``gridgis party campaigns add | list | show | assign | close``, ``gridgis
                   party needs add | list | claim | done``
``party_units``    ``gridgis party alliances | sanling-categories``, ``gridgis import
                   resident-units``, ``gridgis export units | resident-units | sanling``
``party_members``  ``gridgis import members | activities``, ``gridgis party rules | ranking``
``property``       ``gridgis import compounds``, ``gridgis export compounds`` (红心物业)
=================  ==========================================================

``_shared`` holds what several of them use: :func:`~gridgis.cli._shared.friendly`
(gridgis errors become ``Error: …`` and exit code 1), option bundles,
progress bars on stderr, printing a report's lines, reading a file with ``--crs``.

**A new command group** goes in a new module ``gridgis/cli/<group>.py``
defining a ``@click.group("<group>")`` (or a ``@click.command``), its
commands decorated with ``@friendly``; add it to ``_COMMANDS`` below, and
its synopsis to the README's command-line section (a test compares the two).
Commands import the library inside their body, so ``gridgis --help`` stays
fast, and do no computing of their own: logic belongs in the library.
"""

from __future__ import annotations

import click

from gridgis import __version__
from gridgis.cli import (
    audit,
    cases,
    cells,
    config,
    convert,
    db,
    demo,
    departments,
    export,
    imports,
    jobs,
    notices,
    open311,
    partition,
    party,
    party_members,  # noqa: F401  (attaches `party rules | ranking`, `import members`)
    party_units,  # noqa: F401  (attaches `party alliances | sanling-categories`)
    party_work,  # noqa: F401  (attaches `party campaigns | needs`)
    photos,
    property,  # noqa: F401  (attaches `import compounds`, `export compounds`)
    registers,  # noqa: F401  (attaches `import buildings | households` to the import group)
    rosters,
    serve,
    users,
    visits,  # noqa: F401  (attaches `import residents`, `export visits | ledger`)
)

__all__ = ["main"]


@click.group()
@click.version_option(__version__, prog_name="gridgis")
def main() -> None:
    """gridgis: GIS for grid-based community governance (网格化管理).

    The database is GRIDGIS_DATABASE_URL when set, else gridgis's own local
    PostgreSQL + PostGIS cluster in GRIDGIS_HOME, started on demand.
    """


_COMMANDS: list[click.Command] = [
    db.db,
    imports.import_,
    cells.cells,
    partition.partition_cmd,
    partition.validate_cmd,
    demo.demo_cmd,
    convert.convert_cmd,
    serve.serve_cmd,
    config.config_cmd,
    cases.case_group,
    users.users_group,
    departments.departments_group,
    open311.open311_group,
    export.export_group,
    jobs.jobs_group,
    audit.audit_cmd,
    rosters.template_cmd,
    notices.notices,
    party.party_group,
    photos.photos_group,
]
"""Every command and group under ``gridgis``, in the order of the old single module."""

for _command in _COMMANDS:
    main.add_command(_command)
