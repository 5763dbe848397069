"""The book builds offline from the notebooks, executing them, with warnings as errors."""
import os, shutil, subprocess, sys
from pathlib import Path

from support import ROOT, require, require_root


def test_book_builds_without_warnings(tmp_path):
    require_root()
    jb = Path(sys.executable).with_name("jupyter-book")
    require(jb.exists(), "jupyter-book is not installed (./course setup installs it)")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["PATH"] = f"{jb.parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", "--path-output", str(tmp_path),
                             str(ROOT / "book")], capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert (tmp_path / "_build/html/index.html").exists()
    for chapter in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert (tmp_path / f"_build/html/notebooks/{chapter.stem}.html").exists(), chapter.name


def test_vagrantfile_is_valid():
    vagrant = shutil.which("vagrant")
    require(vagrant, "vagrant is not installed (./course setup installs it)")
    result = subprocess.run([vagrant, "validate", "--ignore-provider"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
