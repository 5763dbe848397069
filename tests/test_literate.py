"""Notebooks are the source: the package is their export, they are committed clean, and every
one of them runs from top to bottom on the real kernel."""
import subprocess, sys

import pytest

from support import ROOT, require_root

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def tool(verb):
    return subprocess.run([sys.executable, str(ROOT / "tools/nb.py"), verb], capture_output=True, text=True)


def test_package_is_the_notebooks_export():
    result = tool("check")
    assert result.returncode == 0, "re-export changes minidocker/:\n" + result.stdout


def test_notebooks_are_committed_without_outputs():
    result = tool("dirty")
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed_notebook):
    """Runs it (or, after the book's build in the same session, reports how its run went)."""
    require_root()
    executed_notebook(path)


def small_steps(path) -> list:
    """Where a chapter breaks its rhythm: an export cell longer than 45 lines, or one not followed
    by a live probe (a code cell that is not itself an export cell)."""
    import json
    cells = json.loads(path.read_text())["cells"]
    code = lambda cell: "".join(cell["source"]) if cell and cell["cell_type"] == "code" else None
    found = []
    for number, cell in enumerate(cells):
        source = code(cell)
        if source is None or not source.lstrip().startswith("#| export"):
            continue
        after = code(cells[number + 1]) if number + 1 < len(cells) else None
        if after is None or after.lstrip().startswith(("#| export", "#| default_exp")):
            found.append(f"cell {cell.get('id')}: no probe after it")
        if len(source.splitlines()) > 45:
            found.append(f"cell {cell.get('id')}: {len(source.splitlines())} lines")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_step_is_small_and_shown_working(path):
    """Issue 8's rhythm: small export cells (≤ 45 lines), each followed by a probe that runs it."""
    assert small_steps(path) == []
