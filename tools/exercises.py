"""Exercises that grade themselves, and the student's workbook (`./course check`, `./course workbook`).

    python tools/exercises.py check [CHAPTER ...] [--notebooks DIR] [--timeout SEC] [-v]
    python tools/exercises.py workbook [DIR] [--force]

A chapter ends with exercises. Each is a markdown cell `### Exercise K — title`, then a code cell
opening with `#| exercise: K` and `#| hint: …` (the solution: functions or classes, with their own
imports), then a code cell opening with `#| check: K` (asserts whose messages say what is wrong).
`check` runs, for each exercise, its solution cell then its check cell in a fresh forked child (as
the notebook's kernel would, with notebooks/ as the working directory) and says per exercise
"passed", "not done yet: HINT" (the student's stub still raises NotImplementedError), "wrong:
MESSAGE" (an assert failed) or the error, in one line. It checks the workbook's edition of a
chapter when there is one (workbook/ in this checkout), else the book's (notebooks/).

`workbook` writes the student edition: every notebook, outputs stripped, with the body of each
function and method of an exercise cell, and of an export cell marked `#| student`, replaced by
`raise NotImplementedError(HINT)` (signature and docstring kept). A workbook notebook whose cells
the student changed is kept unless --force.
"""
import argparse
import ast
import hashlib
import json
import os
import re
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nb  # noqa: E402  (tools/nb.py: the notebooks and their directives)

WORKBOOK = nb.ROOT / "workbook"
TITLE = re.compile(r"^###\s*Exercise\s+(\w+)\s*[—–:-]*\s*(.*?)\s*$", re.M)
STUDENT_HINT = "write this: the text above says what it does"


@dataclass
class Exercise:
    number: str
    title: str
    hint: str
    solution: str
    check: str


def chapter_id(path: Path) -> str:
    """`06a` for notebooks/06a_lifecycle.ipynb."""
    return path.stem.split("_")[0]


def _same_chapter(wanted: str, path: Path) -> bool:
    wanted = wanted.lower().removesuffix(".ipynb")
    return wanted == path.stem.lower() or wanted.lstrip("0") == chapter_id(path).lstrip("0")


def select(chapters, directory=None) -> list:
    """The notebooks for CHAPTER ids (`3`, `06a`, `6a`, a file stem), all when none is given: the
    one in `directory` if given, else the workbook's if it exists, else the book's."""
    source = sorted((Path(directory) if directory else nb.NBS).glob("*.ipynb"))
    picked = [p for p in source if not chapters or any(_same_chapter(c, p) for c in chapters)]
    unknown = [c for c in chapters if not any(_same_chapter(c, p) for p in source)]
    if unknown:
        raise SystemExit(f"course check: no chapter {', '.join(unknown)} "
                         f"(chapters: {' '.join(chapter_id(p) for p in source)})")
    if directory:
        return picked
    return [WORKBOOK / p.name if (WORKBOOK / p.name).exists() else p for p in picked]


def _hint(found) -> str:
    return " ".join(value for name, value in found if name == "hint")


def exercises(path: Path) -> list:
    """The exercises of a notebook, in order; ValueError when its cells break the convention."""
    titles, solutions, checks = {}, {}, {}
    for cell in nb._cells(path):
        source = nb._source(cell)
        if cell["cell_type"] == "markdown":
            titles.update((m.group(1), m.group(2)) for m in TITLE.finditer(source))
            continue
        found = nb.directives(source)
        for name, value in found:
            if name in ("exercise", "check"):
                table = solutions if name == "exercise" else checks
                if value in table:
                    raise ValueError(f"{path.name}: two `#| {name}: {value}` cells")
                table[value] = (source, _hint(found))
    if set(solutions) != set(checks):
        lonely = sorted(set(solutions) ^ set(checks))
        raise ValueError(f"{path.name}: exercise {', '.join(lonely)} needs one `#| exercise` and one `#| check` cell")
    return [Exercise(k, titles.get(k, ""), hint, source, checks[k][0]) for k, (source, hint) in solutions.items()]


def one_line(text: str, limit=300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _where(error: BaseException, cells: dict) -> str:
    """`check cell, line 4: assert x == 1` for the innermost frame inside the exercise's cells."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename in cells:
            line = cells[frame.filename].splitlines()[frame.lineno - 1].strip()
            return f"{frame.filename.strip('<>')}, line {frame.lineno}: {line}"
    return ""


def verdict(exercise: Exercise) -> tuple:
    """Run the solution cell, then the check cell, in this process: (outcome, detail)."""
    cells = {f"<exercise {exercise.number}>": exercise.solution, f"<check {exercise.number}>": exercise.check}
    namespace = {"__name__": "__main__"}
    try:
        for filename, source in cells.items():
            exec(compile(source, filename, "exec"), namespace)
    except NotImplementedError as error:
        return "not done yet", str(error) or exercise.hint or "write the exercise's code"
    except AssertionError as error:
        return "wrong", str(error) or f"an assertion failed ({_where(error, cells)})"
    except SyntaxError as error:
        return "error", f"SyntaxError: {error.msg} ({str(error.filename).strip('<>')} cell, line {error.lineno})"
    except BaseException as error:       # SystemExit and KeyboardInterrupt too: the child reports them
        where = _where(error, cells)
        return "error", f"{type(error).__name__}: {error}" + (f" ({where})" if where else "")
    return "passed", ""


def run(exercise: Exercise, timeout: float, cwd=nb.NBS) -> tuple:
    """verdict() in a fresh forked child, in a session of its own, killed after `timeout` seconds:
    (outcome, detail, what it printed)."""
    read, write = os.pipe()
    with tempfile.TemporaryFile() as output:
        sys.stdout.flush(), sys.stderr.flush()
        pid = os.fork()
        if pid == 0:                              # the child: nothing here may return
            outcome = ("error", "the check could not start")
            try:
                os.close(read)
                os.setsid()
                os.chdir(cwd)
                os.dup2(output.fileno(), 1), os.dup2(output.fileno(), 2)
                outcome = verdict(exercise)
                sys.stdout.flush(), sys.stderr.flush()
            finally:
                os.write(write, json.dumps([outcome[0], one_line(outcome[1], 2000)]).encode())
                os._exit(0)
        os.close(write)
        deadline = time.monotonic() + timeout
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(read)
                return "error", f"still running after {timeout:.0f} s: stopped", _printed(output)
            time.sleep(0.02)
        os.set_blocking(read, False)   # a grandchild may hold the pipe open: read what is there
        try:
            message = os.read(read, 1 << 16)
        except BlockingIOError:
            message = b""
        os.close(read)
        outcome, detail = json.loads(message) if message else ("error", "the check died without a verdict")
        return outcome, detail, _printed(output)


def _printed(output) -> str:
    output.seek(0)
    return output.read().decode(errors="replace")


def label(exercise: Exercise) -> str:
    return f"exercise {exercise.number}" + (f" ({exercise.title})" if exercise.title else "")


def check(paths, timeout=120.0, verbose=False) -> int:
    """Print one line per exercise of each notebook; 0 when all pass."""
    failed = 0
    for path in paths:
        shown = path.relative_to(nb.ROOT) if path.is_relative_to(nb.ROOT) else path
        try:
            found = exercises(path)
        except ValueError as error:
            print(f"{shown}: {error}")
            failed += 1
            continue
        print(f"{shown}:" + ("" if found else " no exercises yet"), flush=True)
        for exercise in found:
            outcome, detail, printed = run(exercise, timeout)
            print(f"  {label(exercise)}: {outcome}" + (f": {one_line(detail)}" if detail else ""), flush=True)
            if verbose and printed.strip():
                print("    | " + printed.rstrip().replace("\n", "\n    | "))
            failed += outcome != "passed"
    return 1 if failed else 0


# --- the workbook -------------------------------------------------------------------------------

def _functions(body):
    """Functions and methods defined at the top of `body` (and in its classes), not nested ones."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node.body)


def stub(source: str, hint: str) -> str:
    """`source` with the body of each function and method (all but its docstring) replaced by
    `raise NotImplementedError(hint)`: signatures, decorators, docstrings, comments and any other
    top-level code stay as they were."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno, col):        # ast's columns count UTF-8 bytes
        return starts[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    def line_end(lineno):
        return starts[lineno - 1] + len(lines[lineno - 1].rstrip("\r\n"))

    raising = f"raise NotImplementedError({hint!r})"
    edits = []
    for node in _functions(ast.parse(source).body):
        docstring = node.body[0] if ast.get_docstring(node, clean=False) is not None else None
        rest = node.body[1:] if docstring else node.body
        first = rest[0] if rest else docstring
        on_own_line = not lines[first.lineno - 1][:offset(first.lineno, first.col_offset) - starts[first.lineno - 1]].strip()
        indent = lines[first.lineno - 1][:len(lines[first.lineno - 1]) - len(lines[first.lineno - 1].lstrip())] \
            if on_own_line else " " * (node.col_offset + 4)
        if not rest:                 # only a docstring: the raise goes on the line after it
            edits.append((line_end(docstring.end_lineno), line_end(docstring.end_lineno), f"\n{indent}{raising}"))
            continue
        if on_own_line:              # whole lines go, and comments between the docstring and the code
            begin = starts[docstring.end_lineno] if docstring and docstring.end_lineno < first.lineno \
                else starts[first.lineno - 1]
            text = indent + raising
        else:
            begin, text = offset(first.lineno, first.col_offset), raising
        last = rest[-1]
        end = offset(last.end_lineno, last.end_col_offset)
        tail = lines[last.end_lineno - 1][end - starts[last.end_lineno - 1]:].strip()
        if not tail or tail.startswith("#"):       # a comment after the last statement goes too
            end = line_end(last.end_lineno)
        edits.append((begin, end, text))
    for begin, end, text in sorted(edits, reverse=True):
        source = source[:begin] + text + source[end:]
    return source


def _sources_digest(data: dict) -> str:
    cells = [(cell["cell_type"], nb._source(cell)) for cell in data["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def student_edition(path: Path) -> dict:
    """The notebook at `path` as the student gets it (a notebook's JSON)."""
    data = json.loads(path.read_text())
    for cell in data["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        found = nb.directives(nb._source(cell))
        names = {name for name, _ in found}
        if "exercise" in names or "student" in names:
            hint = _hint(found) or STUDENT_HINT
            cell["source"] = stub(nb._source(cell), hint).splitlines(keepends=True)
    data["metadata"]["minidocker"] = {"workbook_of": f"notebooks/{path.name}", "sources": _sources_digest(data)}
    return data


def has_student_work(path: Path) -> bool:
    """True unless `path` is a workbook notebook whose cells are still as `workbook` wrote them."""
    try:
        data = json.loads(path.read_text())
        return data["metadata"]["minidocker"]["sources"] != _sources_digest(data)
    except (OSError, ValueError, KeyError, TypeError):
        return True


def workbook(directory=WORKBOOK, force=False) -> int:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for path in nb.notebooks():
        target = directory / path.name
        if target.exists() and not force and has_student_work(target):
            kept.append(target)
            continue
        target.write_text(json.dumps(student_edition(path), indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    print(f"wrote {len(written)} notebooks to {directory}/ (the exercises' solutions are stubs there)")
    for target in kept:
        print(f"kept {target}: it has your work in it (--force overwrites it)")
    return 1 if kept else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    checking = verbs.add_parser("check", help="run the exercises' checks of chapters (all by default)")
    checking.add_argument("chapters", nargs="*", metavar="CHAPTER", help="a chapter: 3, 06a, 6a, 07_registry_client")
    checking.add_argument("--notebooks", metavar="DIR", help="check the notebooks in DIR (default: workbook/ "
                          "where it has the chapter, else notebooks/)")
    checking.add_argument("--timeout", type=float, default=120.0, help="seconds one exercise may take (120)")
    checking.add_argument("-v", "--verbose", action="store_true", help="show what each check printed")
    writing = verbs.add_parser("workbook", help="write the student edition of the notebooks")
    writing.add_argument("directory", nargs="?", default=WORKBOOK, help="where (default: workbook/)")
    writing.add_argument("--force", action="store_true", help="overwrite notebooks that have the student's work")
    args = parser.parse_args(argv)
    if args.verb == "workbook":
        return workbook(args.directory, args.force)
    if os.geteuid() != 0:
        print("course check: run me as root (sudo ./course check …): the checks start real containers", file=sys.stderr)
        return 1
    return check(select(args.chapters, args.notebooks), args.timeout, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
