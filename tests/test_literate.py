"""Notebooks are the source: the package is their export, they are committed clean, and every
one of them runs from top to bottom on the real kernel."""
import os, subprocess, sys

import nbformat
import pytest
from nbclient import NotebookClient

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


def kernel_env():
    # ipykernel stops forwarding child-process output when PYTEST_CURRENT_TEST is set.
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    require_root()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env())
