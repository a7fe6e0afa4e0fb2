"""The state of an import of the web import page, as its status route answers it.

Examples
--------
>>> ImportStatus(id="0123456789abcdef", kind="buildings", stage="dry_run", state="running",
...              message="placing 50 buildings in 2 communities", error=None, counts=None,
...              page="/import/0123456789abcdef").state
'running'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gridgis.schemas.common import Answer

__all__ = ["ImportStatus"]


class ImportStatus(Answer):
    """Where an import stands: its stage, progress, and counts once a stage is done."""

    id: str = Field(description="The import's id (16 hex digits).", pattern=r"^[0-9a-f]{16}$")
    kind: str = Field(description="What is imported: buildings, households...")
    stage: Literal["dry_run", "import"] = Field(
        description="`dry_run`: checked, then rolled back; `import`: the confirmed import."
    )
    state: Literal["running", "done", "failed"] = Field(description="How the stage stands.")
    queued: bool = Field(
        default=False, description="The stage waits on the job queue for a runner to take it."
    )
    phases: int | None = Field(
        default=None, description="The phases the running stage has gone through so far."
    )
    message: str | None = Field(description="What the running stage is doing now.")
    error: str | None = Field(description="Why the stage failed (nothing was imported).")
    counts: dict[str, int] | None = Field(
        description="Rows read and of each outcome (imported, updated, unchanged, flagged, "
        "rejected), once the stage is done."
    )
    page: str = Field(description="The import's page (its report).")
