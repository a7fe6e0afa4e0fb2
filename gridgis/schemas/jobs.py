"""A background job (a long export) as its status route answers it.

Examples
--------
>>> JobStatus(id=7, kind="export", state="running", done=5000, total=20000, percent=25.0,
...           message="正在写入文件", error=None, file_name=None,
...           status_url="/api/jobs/7", download_url=None).percent
25.0
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gridgis.schemas.common import Answer

__all__ = ["JobStatus"]


class JobStatus(Answer):
    """Where a background job stands: its state, its progress, and its file once done."""

    id: int = Field(description="The job's id.", ge=1)
    kind: str = Field(description="What the job does: `export`.")
    state: Literal["queued", "running", "done", "failed", "cancelled"] = Field(
        description="`queued` (waiting for a runner), `running`, `done` (the file is ready), "
        "`failed` (see `error`) or `cancelled`."
    )
    done: int = Field(description="Rows written so far.", ge=0)
    total: int | None = Field(description="Rows to write in all, once they are read.")
    percent: float | None = Field(
        description="`done` of `total`, 0–100 (100 once done); null while the total is unknown."
    )
    message: str | None = Field(description="What the job is doing now, in the user's language.")
    error: str | None = Field(description="Why it failed, in the user's language.")
    file_name: str | None = Field(description="The file's name, once done.")
    status_url: str = Field(description="This status (poll it).")
    download_url: str | None = Field(description="The file, once done.")
