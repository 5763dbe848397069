"""Show students the code, not the exporter's syntax: a Sphinx extension for the book.

Before a notebook is parsed (and executed), its `#| default_exp` cells go, and the `#| …` lines
that open a code cell are replaced by a small caption above it: the module an export cell goes
to (→ minidocker/runtime/namespaces.py), or which exercise a solution or a check belongs to.
The notebooks themselves are not touched; the code that runs is the same.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import nb  # noqa: E402  (tools/nb.py: the directives, as the exporter reads them)


def caption(found: dict, default: str) -> str:
    """The caption for a cell with these directives, or "" for none."""
    if "exercise" in found:
        return f"exercise {found['exercise']}: a solution (your workbook has a stub here, for you to write)"
    if "check" in found:
        return f"exercise {found['check']}: its check"
    module = next((found[k] or default for k in ("export", "exporti") if k in found), None)
    if module is None:
        return ""
    path = "minidocker/" + "/".join(module.split(".")) + ".py"
    return f"→ {path}" + (" (in your workbook, you write this)" if "student" in found else "")


def without_directives(notebook: dict) -> dict:
    cells, default = [], None
    for cell in notebook["cells"]:
        source = nb._source(cell)
        found = dict(nb.directives(source)) if cell["cell_type"] == "code" else {}
        if not found:
            cells.append(cell)
            continue
        default = found.get("default_exp", default)
        code = nb.code(source)
        if not code:                                     # a `#| default_exp` cell: nothing to show
            continue
        text = caption(found, default)
        if text:
            cells.append({"cell_type": "markdown", "metadata": {},
                          "source": f'<p class="course-caption">{text}</p>'})
        cells.append(dict(cell, source=code))
    return dict(notebook, cells=cells)


def on_source_read(app, docname, source):
    if app.env.doc2path(docname).endswith(".ipynb"):
        source[0] = json.dumps(without_directives(json.loads(source[0])), ensure_ascii=False)


def setup(app):
    app.connect("source-read", on_source_read)
    app.add_css_file("course.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
