"""A user's work on cases (待办): the cases to handle, to verify and those overdue.

Which cases are whose work follows the lifecycle and the access policy
(:class:`gridgis.access.Policy`):

- a **department** handles (处置) or returns (退单) the cases dispatched to it;
- a **street office** (and an administrator) registers (立案) the cases reported,
  dispatches (派遣) those registered (among them the ones a department returned),
  closes (结案) the verified ones, and follows the escalated (督办) cases still open;
- a **grid worker** verifies (核查) the handled cases of its cells;
- everyone who has work sees the open cases past their deadline (超期) among
  those it sees.

An analyst has no work. Each list is a set of filters of
:func:`gridgis.cases.list_cases`, so the page lists them and
:func:`gridgis.cases.count_cases` counts them all in one query.

Examples
--------
>>> from gridgis.access import Policy
>>> sorted(task_lists(Policy(name="cg", role="department", department="cg")))
['handle', 'overdue']
>>> task_lists(Policy(name="li", role="analyst"))
{}
"""

from __future__ import annotations

from typing import Any

from gridgis.access import Policy

__all__ = ["OPEN_STEPS", "TASK_LISTS", "task_lists"]

TASK_LISTS: tuple[str, ...] = ("handle", "verify", "escalated", "overdue")
"""The lists of work, in the order pages show them."""
OPEN_STEPS: tuple[str, ...] = ("reported", "registered", "dispatched", "handled", "verified")
"""The steps of a case that is neither closed nor rejected."""


def task_lists(policy: Policy) -> dict[str, dict[str, Any]]:
    """The filters (for :func:`gridgis.cases.list_cases`) of each list of work of a user.

    Parameters
    ----------
    policy:
        The user's access policy.

    Returns
    -------
    dict
        Some of :data:`TASK_LISTS`, by name, each a dict of filters already kept to
        the cases the user sees; empty for a user with no work (an analyst, nobody).
    """
    own = policy.case_filters()
    lists: dict[str, dict[str, Any]] = {}
    if policy.role == "department":
        lists["handle"] = own | {"step": ["dispatched"]}
    elif policy.role in ("admin", "street"):
        lists["handle"] = own | {"step": ["reported", "registered", "verified"]}
        lists["escalated"] = own | {"escalated": True, "step": list(OPEN_STEPS)}
    elif policy.role == "worker":
        # only the cases of its cells: a case it filed elsewhere is verified by others
        lists["verify"] = own | {"within_reporter": None, "step": ["handled"]}
    else:
        return {}
    lists["overdue"] = own | {"overdue": True}
    return {name: lists[name] for name in TASK_LISTS if name in lists}
