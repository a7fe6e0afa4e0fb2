"""`gridgis jobs worker`: work the background jobs (long exports, the import page's
imports) outside the web app."""

from __future__ import annotations

import click

from gridgis.cli._shared import friendly


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: the long exports and imports the web app queues in the database."""


@jobs_group.command("worker")
@click.option(
    "--poll",
    default=2.0,
    show_default=True,
    type=float,
    help="Seconds between looks at the queue when no notification comes.",
)
@click.option("--once", is_flag=True, help="Run the queued jobs, then stop.")
@friendly
def worker_cmd(poll: float, once: bool) -> None:  # fmt: skip
    """Run queued jobs until stopped (Ctrl+C): each is claimed by one runner only.

    The web app runs jobs in a thread of each of its processes too; a worker adds
    capacity, or runs them alone when the web app is started with JOBS_RUNNER off.
    Files go to GRIDGIS_HOME/jobs/ and are removed after GRIDGIS_JOBS_KEEP_HOURS.
    """
    from gridgis import config, jobs
    from gridgis.db.engine import get_engine

    settings = config.settings()
    runner = jobs.Runner(
        get_engine(),
        settings.home / "jobs",
        keep_hours=settings.jobs_keep_hours,
        stale_seconds=settings.jobs_stale_seconds,
        poll_seconds=poll,
        idle_seconds=0.0 if once else None,
    )
    click.echo(f"gridgis jobs worker {runner.worker} (Ctrl+C to stop)", err=True)

    def told(job: jobs.Job) -> None:
        click.echo(f"job {job.id} ({job.kind}, {job.owner}): {job.state}", err=True)

    try:
        runner.run(on_job=told)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
