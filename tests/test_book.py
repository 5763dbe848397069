"""The book builds offline from the notebooks, executing them, with warnings as errors; it shows
students the code and where it goes (a caption naming the module), never the exporter's `#|` lines."""
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, require, require_root

sys.path.insert(0, str(ROOT / "book/_ext"))
import course_cells  # noqa: E402
import nb  # noqa: E402  (tools/nb.py, put on the path by course_cells)

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def book(tmp_path_factory, executed_notebook):
    """The book, built once: (the build's result, its html directory). book/_config.yml executes
    every chapter; here the chapters are executed once for the whole session (their own tests,
    test_literate, reuse the runs), so the book is built from those executed copies, unexecuted."""
    require_root()
    jb = Path(sys.executable).with_name("jupyter-book")
    require(jb.exists(), "jupyter-book is not installed (./course setup installs it)")
    source = tmp_path_factory.mktemp("book-source")
    for part in (ROOT / "book").iterdir():
        if part.name not in ("notebooks", "_config.yml", "_build"):
            (source / part.name).symlink_to(part)
    config = (ROOT / "book/_config.yml").read_text()
    assert "execute_notebooks: force" in config
    (source / "_config.yml").write_text(config.replace("execute_notebooks: force", "execute_notebooks: \"off\""))
    (source / "notebooks").mkdir()
    for chapter in CHAPTERS:
        try:
            shutil.copy(executed_notebook(chapter), source / "notebooks" / chapter.name)
        except Exception:                   # noqa: B902 - its own test (test_literate) reports it
            shutil.copy(chapter, source / "notebooks" / chapter.name)
    out = tmp_path_factory.mktemp("book")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["PATH"] = f"{jb.parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", "--path-output", str(out),
                             str(source)], capture_output=True, text=True, env=env, timeout=1200)
    return result, out / "_build/html"


def test_book_builds_without_warnings(book):
    result, site = book
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert (site / "index.html").exists()
    for chapter in CHAPTERS:
        assert (site / f"notebooks/{chapter.stem}.html").exists(), chapter.name


def modules_of(chapter: Path) -> set:
    """The files a chapter's export cells go to, as the captions name them."""
    found, default = set(), None
    for cell in nb._cells(chapter):
        directives = dict(nb.directives(nb._source(cell))) if cell["cell_type"] == "code" else {}
        default = directives.get("default_exp", default)
        for kind in ("export", "exporti"):
            if kind in directives:
                found.add("minidocker/" + (directives[kind] or default).replace(".", "/") + ".py")
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_the_book_shows_modules_not_directives(book, chapter):
    result, site = book
    page = site / f"notebooks/{chapter.stem}.html"
    require(page.exists(), f"the book did not build: {result.stdout[-2000:]}")
    text = html.unescape(page.read_text())
    assert "#|" not in text, [line for line in text.splitlines() if "#|" in line][:5]
    captions = set(re.findall(r'class="course-caption">→ (minidocker/\S+\.py)', text))
    assert captions == modules_of(chapter)


def test_directives_become_captions():
    notebook = {"cells": [
        {"cell_type": "code", "source": "#| default_exp runtime.namespaces"},
        {"cell_type": "code", "source": "#| export\ndef a(): pass"},
        {"cell_type": "code", "source": "#| export cli.run\n#| student\n#| hint: h\ndef b(): pass"},
        {"cell_type": "code", "source": "#| exercise: 2\n#| hint: h\ndef c(): pass"},
        {"cell_type": "code", "source": "#| check: 2\nassert c() is None"},
        {"cell_type": "code", "source": "print('plain')  #| not a directive here"}]}
    cells = [(c["cell_type"], c["source"]) for c in course_cells.without_directives(notebook)["cells"]]
    caption = lambda text: ("markdown", f'<p class="course-caption">{text}</p>')
    assert cells == [caption("→ minidocker/runtime/namespaces.py"), ("code", "def a(): pass"),
                     caption("→ minidocker/cli/run.py (in your workbook, you write this)"), ("code", "def b(): pass"),
                     caption("exercise 2: a solution (your workbook has a stub here, for you to write)"),
                     ("code", "def c(): pass"),
                     caption("exercise 2: its check"), ("code", "assert c() is None"),
                     ("code", "print('plain')  #| not a directive here")]


def test_the_table_of_contents_is_every_chapter():
    """The book and chapter 0's road map promise only chapters that exist, and miss none."""
    listed = re.findall(r"^\s*- file: notebooks/(\S+)\s*$", (ROOT / "book/_toc.yml").read_text(), re.M)
    assert listed == [p.stem for p in CHAPTERS]


def test_vagrantfile_is_valid():
    vagrant = shutil.which("vagrant")
    require(vagrant, "vagrant is not installed (./course setup installs it)")
    result = subprocess.run([vagrant, "validate", "--ignore-provider"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
