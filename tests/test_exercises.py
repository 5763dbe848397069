"""Exercises that grade themselves (tools/exercises.py, `./course check` and `./course workbook`):
every chapter has them; the book's solutions pass their checks and the workbook's stubs fail
them as "not done yet", on real containers; the workbook keeps signatures, docstrings and the
student's work; the exporter leaves exercises out."""
import ast
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import ROOT, require_root

sys.path.insert(0, str(ROOT / "tools"))
import exercises  # noqa: E402
import nb  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LINE = re.compile(r"^  exercise (\w+)(?: \((.*?)\))?: (passed|not done yet|wrong|error)(?:: (.*))?$")


def notebook(path: Path, *cells) -> Path:
    """A notebook at `path` from (cell_type, source) pairs, each code cell with an output."""
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": source,
         **({"outputs": [{"output_type": "stream", "name": "stdout", "text": "old\n"}], "execution_count": 1}
            if kind == "code" else {})} for i, (kind, source) in enumerate(cells)]}))
    return path


def check_lines(chapter: str, directory: Path) -> list:
    """What `exercises.py check CHAPTER --notebooks DIR` says, as (number, title, outcome, detail)."""
    result = subprocess.run([sys.executable, str(ROOT / "tools/exercises.py"), "check", chapter,
                             "--notebooks", str(directory)], capture_output=True, text=True, timeout=1200)
    found = [LINE.match(line) for line in result.stdout.splitlines()]
    found = [m.groups() for m in found if m]
    assert (result.returncode == 0) == all(outcome == "passed" for _, _, outcome, _ in found), result.stdout
    assert found or "no exercises" in result.stdout, result.stdout + result.stderr
    return found


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    """Each selected chapter's checks, run once on the book and once on a fresh workbook, two
    chapters at a time: {(edition, chapter stem): check_lines(...)}."""
    require_root()
    workbook = tmp_path_factory.mktemp("workbook")
    assert exercises.workbook(workbook) == 0
    params = lambda item: getattr(getattr(item, "callspec", None), "params", {})
    wanted = sorted({params(item)["chapter"].stem for item in request.session.items     # only the tests selected
                     if item.module is request.module and "chapter" in params(item)})
    jobs = [(edition, stem) for stem in wanted if exercises.exercises(ROOT / f"notebooks/{stem}.ipynb")
            for edition in ("book", "workbook")]
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(lambda job: check_lines(job[1], ROOT / "notebooks" if job[0] == "book" else workbook), jobs)
        return dict(zip(jobs, found))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_exercises_grade_themselves(chapter, outcomes):
    found = exercises.exercises(chapter)
    assert found, (f"{chapter.name} has no exercises in the convention yet: `### Exercise K — title`, "
                   "then a `#| exercise: K` cell and a `#| check: K` cell (see tools/exercises.py)")
    assert all(e.title for e in found), f"an exercise of {chapter.name} has no `### Exercise K — title` cell"
    book, workbook = outcomes["book", chapter.stem], outcomes["workbook", chapter.stem]
    assert [n for n, *_ in book] == [e.number for e in found], book
    failing = [f"exercise {n}: {outcome}: {detail}" for n, _, outcome, detail in book if outcome != "passed"]
    assert not failing, "the book's solutions fail their checks:\n" + "\n".join(failing)
    passing = [f"exercise {n}: {outcome}: {detail}" for n, _, outcome, detail in workbook if outcome != "not done yet"]
    assert not passing, "the workbook's stubs should be 'not done yet':\n" + "\n".join(passing)
    assert [n for n, *_ in workbook] == [e.number for e in found], workbook


SOURCE = '''#| exercise: 1
#| hint: read /proc
import os

@staticmethod
def differing(pid: int, *, kinds=("pid", "mnt")) -> set[str]:
    """Which namespace kinds — 命名空间 — process PID does not share with us."""
    # the solution's own comment
    found = {k for k in kinds if os.readlink(f"/proc/{pid}/ns/{k}") != os.readlink(f"/proc/self/ns/{k}")}
    return found  # trailing

class Probe:
    """A class keeps its attributes; its methods are stubbed."""
    limit = 3
    def short(self): return self.limit
    async def later(self):
        """Only a docstring."""

def one_line(): "doc"; return 2
'''


def test_a_stub_keeps_signatures_and_docstrings_and_raises_the_hint():
    stubbed = exercises.stub(SOURCE, "read /proc — 'it is there'")
    before, after = ast.parse(SOURCE), ast.parse(stubbed)
    functions = lambda tree: [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert len(functions(before)) == len(functions(after)) == 4
    for old, new in zip(functions(before), functions(after)):
        assert (new.name, ast.dump(new.args), ast.dump(new.returns) if new.returns else None,
                [ast.dump(d) for d in new.decorator_list], ast.get_docstring(new)) == \
               (old.name, ast.dump(old.args), ast.dump(old.returns) if old.returns else None,
                [ast.dump(d) for d in old.decorator_list], ast.get_docstring(old))
        code = new.body[1:] if ast.get_docstring(new) else new.body
        assert len(code) == 1 and ast.unparse(code[0]) == "raise NotImplementedError(\"read /proc — 'it is there'\")"
    assert stubbed.startswith("#| exercise: 1\n#| hint: read /proc\nimport os\n")
    assert "limit = 3" in stubbed and "solution's own comment" not in stubbed and "trailing" not in stubbed
    namespace = {}
    exec(stubbed, namespace)
    with pytest.raises(NotImplementedError, match="read /proc"):
        namespace["differing"](1)


def test_the_workbook_of_a_small_notebook(tmp_path):
    source = notebook(tmp_path / "09_demo.ipynb",
                      ("code", "#| default_exp demo"),
                      ("code", "#| export\n#| student\n#| hint: add them\ndef add(a, b):\n    return a + b\n"),
                      ("code", "#| export\ndef keep():\n    return 1\n"),
                      ("markdown", "## Exercises\n\n### Exercise 1 — Twice\n\nWrite `twice(x)`."),
                      ("code", "#| exercise: 1\n#| hint: x + x\ndef twice(x):\n    \"\"\"x, twice.\"\"\"\n    return 2 * x\n"),
                      ("code", "#| check: 1\nassert twice(2) == 4, 'twice(2) is 4'\n"))
    edition = exercises.student_edition(source)
    cells = [nb._source(c) for c in edition["cells"]]
    assert cells[1] == "#| export\n#| student\n#| hint: add them\ndef add(a, b):\n    raise NotImplementedError('add them')\n"
    assert cells[2] == "#| export\ndef keep():\n    return 1\n"
    assert cells[4] == "#| exercise: 1\n#| hint: x + x\ndef twice(x):\n    \"\"\"x, twice.\"\"\"\n    raise NotImplementedError('x + x')\n"
    assert cells[5] == nb._source(json.loads(source.read_text())["cells"][5])
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in edition["cells"] if c["cell_type"] == "code")
    [exercise] = exercises.exercises(source)
    assert (exercise.number, exercise.title, exercise.hint) == ("1", "Twice", "x + x")


def test_check_says_passed_not_done_wrong_or_the_error(tmp_path, capsys):
    cells = [("markdown", "### Exercise 1 — Right\n\n### Exercise 2 — Stub\n\n### Exercise 3 — Wrong\n\n"
                          "### Exercise 4 — Broken\n\n### Exercise 5 — Endless")]
    for number, body in (("1", "return 1"), ("2", "raise NotImplementedError('start from f')"), ("3", "return 2"),
                         ("4", "return 1 / 0"), ("5", "import time; time.sleep(60)")):
        cells += [("code", f"#| exercise: {number}\n#| hint: h{number}\ndef f():\n    {body}\n"),
                  ("code", f"#| check: {number}\nassert f() == 1, 'f() should return 1'\nprint('exercise {number}')\n")]
    path = notebook(tmp_path / "09_demo.ipynb", *cells)
    assert exercises.check([path], timeout=3) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == ["  exercise 1 (Right): passed",
                         "  exercise 2 (Stub): not done yet: start from f",
                         "  exercise 3 (Wrong): wrong: f() should return 1",
                         "  exercise 4 (Broken): error: ZeroDivisionError: division by zero (exercise 4, line 4: return 1 / 0)",
                         "  exercise 5 (Endless): error: still running after 3 s: stopped"]


def test_the_workbook_keeps_the_students_work(tmp_path, capsys):
    assert exercises.workbook(tmp_path) == 0
    chapter = tmp_path / "00_what_is_docker.ipynb"
    data = json.loads(chapter.read_text())
    data["cells"][0]["outputs"] = []          # running cells is not work; changing them is
    chapter.write_text(json.dumps(data))
    assert not exercises.has_student_work(chapter)
    data["cells"][-1]["source"] = "my answer"
    chapter.write_text(json.dumps(data))
    assert exercises.workbook(tmp_path) == 1
    assert "kept" in capsys.readouterr().out and "my answer" in chapter.read_text()
    assert exercises.workbook(tmp_path, force=True) == 0
    assert "my answer" not in chapter.read_text()


@pytest.mark.parametrize("wanted, stems", [("0", ["00_what_is_docker"]), ("00", ["00_what_is_docker"]),
                                          ("6a", ["06a_lifecycle"]), ("06a", ["06a_lifecycle"]),
                                          ("6", ["06_containers"]), ("7", ["07_registry_client", "07_registry_server"]),
                                          ("07_registry_server", ["07_registry_server"])])
def test_chapters_are_named_as_students_say_them(wanted, stems):
    assert [p.stem for p in exercises.select([wanted], ROOT / "notebooks")] == stems
    with pytest.raises(SystemExit, match="no chapter 99"):
        exercises.select(["99"], ROOT / "notebooks")


def test_exercises_are_never_exported_and_student_cells_are(tmp_path, monkeypatch):
    notebook(tmp_path / "09_demo.ipynb",
             ("code", "#| default_exp demo"),
             ("code", "#| export\n#| student\n#| hint: add them\ndef add(a, b):\n    return a + b"),
             ("code", "#| exercise: 1\n#| hint: x\ndef twice(x):\n    return 2 * x"),
             ("code", "#| check: 1\nassert twice(2) == 4"))
    monkeypatch.setattr(nb, "NBS", tmp_path)
    text = nb.modules()[Path("demo.py")]
    assert "def add(a, b):\n    return a + b" in text and "twice" not in text and "#|" not in text
    notebook(tmp_path / "09_demo.ipynb", ("code", "#| default_exp demo"), ("code", "#| export\n#| exercise: 1\ndef f(): pass"))
    with pytest.raises(SystemExit, match="never exported"):
        nb.modules()
