"""The notebooks of ``notebooks/`` run top to bottom on the small demo (issue 7).

Each notebook runs in a real Jupyter kernel (``python3``, which must be this
interpreter: the venv's) on a fresh copy of the small demo district, named to
the notebook by ``GRIDGIS_DATABASE_URL``. A kernel that cannot start fails the
test. The committed notebooks carry no outputs and are exactly what
``notebooks/_build.py`` writes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = (
    "01_district_tour.ipynb",
    "02_redraw_and_compare.ipynb",
    "03_party_branch_placement.ipynb",
)
KERNEL = "python3"
CELL_TIMEOUT = 300
"""Seconds one cell may take (each notebook takes about 10 s on the small demo)."""

_PROBE = "import sys\nimport matplotlib\nprint(sys.prefix)\nprint(matplotlib.get_backend())"
"""A last cell added to the executed copy: which interpreter and plotting backend ran it."""


def _outputs(nb: Any) -> list[Any]:
    return [output for cell in nb.cells for output in cell.get("outputs", [])]


def _run(name: str) -> Any:
    """Execute a copy of notebook ``name`` in the ``python3`` kernel; return it with outputs."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE, id="test-probe"))
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises on a cell's error, a dead kernel or a kernel that never starts
    return nb


def _check_run(nb: Any) -> None:
    """No cell failed or wrote to stderr, at least one plot, run by this venv headless."""
    outputs = _outputs(nb)
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert errors == []
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 1
    probe = nb.cells[-1].outputs
    prefix, backend = probe[0].text.split()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    assert backend in ("inline", "module://matplotlib_inline.backend_inline", "agg"), backend


@pytest.fixture
def demo_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The kernel reads a fresh copy of the small demo; matplotlib never opens a window."""
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks switch to the inline (Agg) backend
    return demo_url


def test_kernel_is_this_interpreter() -> None:
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    command = spec.argv[0]
    # jupyter_client runs a spec's bare "python" as the interpreter that starts the kernel.
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if command not in bare:
        assert Path(command).resolve() == Path(sys.executable).resolve(), spec.argv
    assert spec.argv[1:3] == ["-m", "ipykernel_launcher"]


def test_committed_notebooks_hold_no_outputs() -> None:
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert code, name
        assert [c.id for c in code if c.outputs or c.execution_count is not None] == [], name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name


def test_notebooks_are_what_the_build_script_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "_build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


def test_district_tour_runs(demo_env: str) -> None:
    nb = _run("01_district_tour.ipynb")
    _check_run(nb)
    maps = [
        o.data["text/html"]
        for o in _outputs(nb)
        if "text/html" in o.get("data", {}) and "L.map(" in o.data["text/html"]
    ]
    assert len(maps) == 1
    assert re.search(r"35030[0-9]{10}", maps[0])  # the street's cells, by code, in the map
    assert "tileLayer" not in maps[0]  # no outside base map


def test_redraw_and_compare_runs_and_publishes_nothing(demo_env: str) -> None:
    engine = create_engine(demo_env)
    count = text(
        "SELECT (SELECT count(*) FROM layout_version), (SELECT count(*) FROM layout_draft)"
    )
    try:
        with engine.connect() as conn:
            versions, drafts = conn.execute(count).one()
        nb = _run("02_redraw_and_compare.ipynb")
        _check_run(nb)
        with engine.connect() as conn:
            assert tuple(conn.execute(count).one()) == (versions, drafts)
    finally:
        engine.dispose()
    printed = "".join(o.text for o in _outputs(nb) if o.output_type == "stream")
    assert "nothing published; the drafts were discarded" in printed
    assert re.search(r"version \d+ -> \d+; \d+ added, \d+ retired", printed)


def test_party_branch_placement_runs(demo_env: str) -> None:
    nb = _run("03_party_branch_placement.ipynb")
    _check_run(nb)
    printed = "".join(o.text for o in _outputs(nb) if o.output_type == "stream")
    assert re.search(r"exact: +MILP \(HiGHS\)", printed)
    assert re.search(r"households covered: [\d.]+% -> [\d.]+%", printed)
