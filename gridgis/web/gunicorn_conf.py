"""gunicorn settings for gridgis: access logs with API keys masked, the app's log lines.

Use it with ``-c python:gridgis.web.gunicorn_conf``; options given on the command
line are added to these::

    gunicorn -c python:gridgis.web.gunicorn_conf -w 2 -k gthread --threads 5 \\
        --access-logfile - 'gridgis.web:create_app()'

or name only the logger: ``--logger-class gridgis.web.gunicorn_conf.GunicornLogger``.
See :mod:`gridgis.web.logs` for what is masked. The ``gridgis`` loggers (one
structured line per request, the library's notes) go to standard error in
:data:`gridgis.web.logs.LOG_FORMAT`, set up when gunicorn starts (:func:`on_starting`).
Only gunicorn imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from gridgis.web.logs import configure_logging, mask_atoms

__all__ = ["GunicornLogger", "logger_class", "on_starting"]


class GunicornLogger(Logger):
    """gunicorn's logger; the access log masks secret query fields and credential headers."""

    def atoms(self, resp: Any, req: Any, environ: Mapping[str, Any], request_time: Any) -> Any:
        """The atoms of the access-log format, masked (:func:`gridgis.web.logs.mask_atoms`)."""
        return mask_atoms(super().atoms(resp, req, environ, request_time))


logger_class = GunicornLogger
"""The access log masks ``api_key=``, ``token=`` and the like (:mod:`gridgis.web.logs`)."""


def on_starting(server: Any) -> None:
    """gunicorn's hook in the master process, before the workers fork: the ``gridgis``
    loggers write to standard error (:func:`gridgis.web.logs.configure_logging`)."""
    configure_logging()
