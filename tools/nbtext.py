"""Edit a notebook as plain text, keeping every cell's id (so diffs and merges stay small).

    python tools/nbtext.py dump notebooks/03_oci_runtime.ipynb > /tmp/03.py
    ... edit /tmp/03.py with any editor ...
    python tools/nbtext.py load /tmp/03.py notebooks/03_oci_runtime.ipynb

The text is a sequence of cells, each introduced by a line
    # %% [code] id=8dd7a93d          or          # %% [markdown] id=1f2e3d4c
A cell written with no id (`# %% [code]`) gets a fresh one. Outputs are not kept: notebooks
are committed stripped (tools/nb.py clean).
"""
import json, re, sys, uuid
from pathlib import Path

HEADER = re.compile(r"^# %% \[(code|markdown|raw)\](?: id=(\S+))?\s*$")


def dump(nb_path):
    data = json.loads(Path(nb_path).read_text())
    out = []
    for cell in data["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        out.append(f"# %% [{cell['cell_type']}] id={cell.get('id') or uuid.uuid4().hex[:8]}\n{source}\n")
    sys.stdout.write("".join(out))


def load(text_path, nb_path):
    nb = Path(nb_path)
    data = json.loads(nb.read_text()) if nb.exists() else {
        "cells": [], "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                  "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    cells, current = [], None
    for line in Path(text_path).read_text().splitlines(keepends=True):
        match = HEADER.match(line)
        if match:
            current = {"cell_type": match.group(1), "id": match.group(2) or uuid.uuid4().hex[:8], "body": []}
            cells.append(current)
        elif current is not None:
            current["body"].append(line)
        elif line.strip():
            sys.exit(f"{text_path}: text before the first '# %% [code]' header")
    ids = [c["id"] for c in cells]
    if len(set(ids)) != len(ids):
        sys.exit(f"{text_path}: a cell id is used twice")
    old = {cell.get("id"): cell for cell in data["cells"]}
    data["cells"] = []
    for c in cells:
        body = "".join(c["body"])
        body = body[:-1] if body.endswith("\n") else body      # dump() ends every cell with a newline
        cell = old.get(c["id"]) if old.get(c["id"], {}).get("cell_type") == c["cell_type"] else None
        if cell is None:
            cell = {"cell_type": c["cell_type"], "id": c["id"], "metadata": {}}
            if c["cell_type"] == "code":
                cell.update(outputs=[], execution_count=None)
        cell["source"] = body.splitlines(keepends=True)
        data["cells"].append(cell)
    nb.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
