"""What the command modules share: error translation, option bundles, progress bars, printing.

Nothing here computes: these helpers only turn library errors into messages,
attach groups of options, show progress on stderr and print lines.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from gridgis.crs import CRS_CHOICES_HELP
from gridgis.errors import GridGISError

F = TypeVar("F", bound=Callable[..., Any])


def actor() -> str:
    """``cli:<login>``: who changes the data, for the audit trail."""
    from gridgis.audit import cli_actor

    return cli_actor()


def friendly(func: F) -> F:
    """Turn gridgis errors into a message and exit code 1 instead of a traceback.

    An error carrying a ``report`` (an import's findings) prints the report's
    lines first, then ``Error: <message>``, all on stderr.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GridGISError as exc:
            report = getattr(exc, "report", None)
            if report is not None:
                for line in report.lines():
                    click.echo(line, err=True)
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def with_options(options: Iterable[Callable[[F], F]]) -> Callable[[F], F]:
    """A decorator attaching a bundle of ``click.option`` decorators, in the order given.

    Examples
    --------
    >>> _limits = [click.option("--min", type=int), click.option("--max", type=int)]
    >>> @click.command()
    ... @with_options(_limits)
    ... def sized(min: int | None, max: int | None) -> None: ...
    >>> [p.name for p in sized.params]
    ['min', 'max']
    """
    bundle = list(options)

    def decorate(func: F) -> F:
        for option in reversed(bundle):
            func = option(func)
        return func

    return decorate


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    """Print each of ``lines`` (a report's ``lines()``) on stdout, or stderr with ``err``."""
    for line in lines:
        click.echo(line, err=err)


def row_bar(label: str) -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` callback drawing one bar on stderr, or ``None`` (nothing
    counted) when stderr is not a terminal: a script's log gets no bar."""
    if not sys.stderr.isatty():
        return None
    bars = PhaseBars()

    def progress(done: int, total: int) -> None:
        bars(label, done, total)
        if done >= total:
            bars.finish()

    return progress


@contextmanager
def phase_progress() -> Iterator[Callable[[str], None]]:
    """A ``progress(message)`` callback for a library that says its phases (the importers).

    On a terminal, each phase is a bar on stderr labelled with what the library said, filled
    when the next phase starts (or the work ends), with the time it took; elsewhere (a
    script's log) the phase lines of :func:`echo_progress`.
    """
    if not sys.stderr.isatty():
        yield echo_progress
        return
    bars = PhaseBars()
    current: list[str] = []

    def progress(message: str) -> None:
        if current:
            bars(current[0], 1, 1)
        current[:] = [message]
        bars(message, 0, 1)

    try:
        yield progress
        if current:
            bars(current[0], 1, 1)
    finally:
        bars.finish()


def echo_progress(message: str) -> None:
    """Print a library's progress message on stderr as ``... message``."""
    click.echo(f"... {message}", err=True)


class PhaseBars:
    """Progress bars on stderr for a task in phases: a new bar whenever the label changes.

    Call it as ``bars(label, done, total)`` from a library's ``progress``
    callback; :meth:`finish` ends the last bar. Used as a context manager, it
    finishes on leaving.

    Examples
    --------
    >>> with PhaseBars() as bars:  # doctest: +SKIP
    ...     run_demo(engine, progress=lambda phase, done, total:
    ...              bars(f"{phase:<12}", done, total))
    """

    def __init__(self) -> None:
        self._label: str | None = None
        self._bar: Any = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != self._label:
            self.finish()
            self._label = label
            self._bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self._bar.render_progress()
        self._bar.update(done - self._bar.pos)

    def finish(self) -> None:
        """End the current bar, if any."""
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finish()


def read_with_crs(
    path: Path, crs: str | None, encoding: str | None, layer: str | None = None
) -> Any:
    """Read a vector file; --crs names the CRS of a file that lacks one (or GCJ-02/BD-09).

    Prints how a shapefile's text was decoded. A file that does not say its
    CRS needs --crs (a usage error otherwise); the rest is
    :func:`gridgis.io.apply_named_crs`.
    """
    from gridgis.io import apply_named_crs, encoding_note, read_vector

    frame = read_vector(path, encoding=encoding, layer=layer)
    if (note := encoding_note(frame)) is not None:  # how a shapefile's text was decoded
        click.echo(f"{path.name}: encoding: {note}")
    if crs is None and frame.crs is None:
        raise click.UsageError(f"{path} does not say its CRS: pass --crs ({CRS_CHOICES_HELP})")
    return apply_named_crs(frame, crs)


def run_register(
    importer: Any, file: Path, report_path: Path | None, options: dict[str, Any]
) -> None:
    """Import FILE with a register's ``importer`` (:mod:`gridgis.registers`), print its
    report and write the per-row CSV (default ``<stem>.report.csv`` next to FILE).

    The report's folder is checked first, so that nothing is imported for a report
    that cannot be written.
    """
    from gridgis.db.engine import get_engine
    from gridgis.registers import default_report_path

    target = report_path or default_report_path(file)
    if not target.parent.is_dir():
        raise click.UsageError(f"cannot write the report to {target}: no folder {target.parent}")
    with phase_progress() as progress:
        report = importer(get_engine(), file, progress=progress, actor=actor(), **options)
    echo_lines(report.lines())
    written = report.write_csv(target)
    click.echo(f"report: {written} (one line per {report.numbering})")
