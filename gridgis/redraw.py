"""Redrawing the cells of every community of an area at once, published in one transaction.

What ``gridgis cells draw|adjust --street|--district`` does: the cell
engine runs on each community of a street office or district (or on one
community) with :func:`gridgis.editing.propose_layout`, then all the new
layouts are published together with :func:`gridgis.db.layout.publish_many`,
so either every community moves to its new version or none does (a
community whose layout changed meanwhile refuses the whole publish).

Examples
--------
>>> result = redraw(engine, "350304001", method="adjust", dry_run=True)  # doctest: +SKIP
>>> result.lines()[-1]  # doctest: +SKIP
'would publish 3 of 12 communities; 5 cells added, 2 retired, ...'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from gridgis.db.layout import LayoutDiff, communities_in, publish_many
from gridgis.editing import PROPOSE_METHODS, NothingToDrawError, propose_layout
from gridgis.errors import InputError, Problem, ValidationError

__all__ = ["Redraw", "redraw"]


@dataclass
class Redraw:
    """What :func:`redraw` published, or would have (``dry_run``).

    Attributes
    ----------
    method:
        ``"draw"`` or ``"adjust"``.
    dry_run:
        Whether everything was rolled back.
    diffs:
        One per community that had something to draw, in code order.
    skipped:
        Why each community with nothing to draw (no buildings) was left out.
    flagged:
        The cells the engine flagged, ``code: N households (flags)``.
    findings:
        The validator's findings on layouts that break a rule.
    saved_bounds:
        The bounds stored as the communities' own (``save_bounds``).
    """

    method: str
    dry_run: bool
    diffs: list[LayoutDiff] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    saved_bounds: list[tuple[int, int]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report: each community's diff, what was skipped or flagged, then the totals."""
        diffs = self.diffs
        moved = sum(d.households_moved for d in diffs)
        total = sum(d.households_total for d in diffs)
        summary = (
            f"{'would publish' if self.dry_run else 'published'} "
            f"{sum(d.version is not None for d in diffs)} of {len(diffs)} communities; "
            f"{sum(len(d.added) for d in diffs)} cells added, "
            f"{sum(len(d.retired) for d in diffs)} retired, "
            f"{sum(len(d.reshaped) for d in diffs)} reshaped (code kept), "
            f"{sum(len(d.unchanged) for d in diffs)} unchanged; "
            f"{moved} of {total} households moved"
            + (" (dry run: nothing was changed)" if self.dry_run else "")
        )
        carried = sum(c.to_code == c.from_code for d in diffs for c in d.links_moved)
        links = [
            *([f"{carried} links carried to the new shapes of their cells"] if carried else []),
            *(
                f"link moved {c.line()}"
                for d in diffs
                for c in d.links_moved
                if c.to_code != c.from_code
            ),
            *(f"link undecided {c.line()}" for d in diffs for c in d.links_undecided),
        ]
        return [
            *(
                line
                for d in diffs
                for line in ([d.line(), *d.cell_lines()] if self.dry_run else [d.line()])
            ),
            *links,
            *(
                f"saved households per cell {low}–{high} for {len(self.diffs)} communities"
                + (" (dry run: not saved)" if self.dry_run else "")
                for low, high in self.saved_bounds
            ),
            *(f"skipped {line}" for line in self.skipped),
            *(f"flagged {line}" for line in self.flagged),
            *(f"validation: {line}" for line in self.findings),
            summary,
        ]


def redraw(
    engine: Engine,
    area_code: str,
    *,
    method: str = "draw",
    seed: int = 0,
    min_households: int | None = None,
    max_households: int | None = None,
    actor: str,
    published_by: str | None = None,
    dry_run: bool = False,
    accept_unlinked: bool = False,
    save_bounds: bool = False,
    allow_findings: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Redraw:
    """Compute a new layout for each community in an area, then publish them all at once.

    Parameters
    ----------
    engine:
        The database.
    area_code:
        A community's 12-digit code, a street office's 9 or a district's 6.
    method:
        ``"draw"`` or ``"adjust"``, as for :func:`gridgis.editing.propose_layout`.
    seed, min_households, max_households:
        As for :func:`gridgis.editing.propose_layout`.
    actor:
        Who makes the change, for the audit trail (``cli:<login>`` on the command line).
    published_by:
        Who publishes (recorded with each new version; default ``actor``).
    dry_run:
        Compute the diffs, then roll back: nothing is published.
    save_bounds:
        Make the bounds of this run each community's stored bounds.
    allow_findings:
        Publish layouts the validator finds errors in (as the web page's
        "publish anyway"); by default such a run publishes nothing.
    accept_unlinked:
        Publish even when links are left on retired cells without a clear successor
        (see :func:`gridgis.db.layout.publish_cells`).
    progress:
        Called as ``progress(done, total)`` with the communities done so
        far: once before the first and after each.

    Returns
    -------
    Redraw
        The diffs and what was skipped, flagged or found.

    Raises
    ------
    InputError
        When ``method`` is neither ``"draw"`` nor ``"adjust"``, or a bound is wrong.
    NotFoundError
        When no community lies in ``area_code``.
    LayoutChangedError
        When a community's layout changed after it was read (nothing is published).
    UnlinkedError
        When links would be left without a clear successor (nothing is published).
    ValidationError
        When a layout has validation errors and ``allow_findings`` is false (nothing is
        published).
    """
    if method not in PROPOSE_METHODS:
        raise InputError(
            f"`method` was {method!r} but is expected to be one of {PROPOSE_METHODS}",
            zh=f"`method` 为 {method!r}，应为以下之一：{PROPOSE_METHODS}",
        )
    codes = communities_in(engine, area_code)
    result = Redraw(method=method, dry_run=dry_run)
    layouts = []
    refused: list[str] = []
    bounds: dict[str, tuple[int, int]] = {}
    if progress is not None:
        progress(0, len(codes))
    for done, code in enumerate(codes, start=1):
        try:
            proposal = propose_layout(
                engine,
                code,
                method=method,
                seed=seed,
                min_households=min_households,
                max_households=max_households,
            )
        except NothingToDrawError as exc:
            result.skipped.append(str(exc))
        else:
            result.flagged.extend(proposal.flagged())
            if not proposal.report.ok:
                result.findings.extend(proposal.report.lines())
                refused.append(code)
            layouts.append(
                (code, proposal.cells[["code", "flags", "geometry"]], proposal.base_version)
            )
            bounds[code] = proposal.bounds
        if progress is not None:
            progress(done, len(codes))
    if refused and not allow_findings and not dry_run:
        raise ValidationError(
            f"the validator found errors in the layouts of {len(refused)} "
            f"communit{'y' if len(refused) == 1 else 'ies'} ({', '.join(refused[:10])}"
            f"{' ...' if len(refused) > 10 else ''}); nothing was published",
            [Problem(None, None, line) for line in result.findings[:50]],
            zh=f"校验发现 {len(refused)} 个社区的网格有错误（{', '.join(refused[:10])}"
            f"{' ...' if len(refused) > 10 else ''}）；未发布任何内容",
        )
    result.diffs = publish_many(
        engine,
        layouts,
        method=method,
        actor=actor,
        published_by=published_by,
        dry_run=dry_run,
        accept_unlinked=accept_unlinked,
        bounds=bounds,
        save_bounds=save_bounds,
    )
    if save_bounds:
        result.saved_bounds = sorted(set(bounds.values()))
    return result
