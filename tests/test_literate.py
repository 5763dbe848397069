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
