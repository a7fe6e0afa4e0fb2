"""`gridgis serve`: run the web app."""

from __future__ import annotations

import click

from gridgis.cli._shared import friendly


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@friendly
def serve_cmd(host: str, port: int, debug: bool) -> None:
    """Run the web app."""
    from gridgis.db import migrate
    from gridgis.db.engine import get_engine
    from gridgis.web import create_app
    from gridgis.web.logs import WerkzeugRequestHandler, configure_logging

    configure_logging()  # one structured line per request on standard error
    engine = get_engine()
    if migrate.current_revision(engine) != migrate.head_revision():
        raise click.ClickException(
            "the database schema is not up to date: run `gridgis db upgrade`"
        )
    app = create_app()
    click.echo(f"gridgis web app on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(
        host=host,
        port=port,
        debug=debug,
        use_reloader=False,
        request_handler=WerkzeugRequestHandler,  # API keys in URLs are masked in its log
    )
