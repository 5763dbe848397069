"""A git merge driver for notebooks: merge their text form (tools/nbtext.py), cell by cell.

Git's line merge of notebook JSON conflicts on every neighbouring edit and can leave invalid
JSON; merging the text dumps instead keeps each cell a contiguous block. Enable it once:

    git config merge.nbtext.driver "python3 tools/nbmerge.py %O %A %B %P"

(.gitattributes routes *.ipynb to it.) On a conflict the notebook keeps our side and the merged
text with conflict markers is written beside it as NAME.ipynb.conflict.py: resolve it there, then
`python tools/nbtext.py load NAME.ipynb.conflict.py NAME.ipynb`.
"""
import subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def dump(path, out):
    with open(out, "w") as f:
        subprocess.run([sys.executable, str(HERE / "nbtext.py"), "dump", path], stdout=f, check=True)


def main(base, ours, theirs, name):
    with tempfile.TemporaryDirectory() as tmp:
        texts = [Path(tmp, n) for n in ("base.py", "ours.py", "theirs.py")]
        for nb, text in zip((base, ours, theirs), texts):
            dump(nb, text)
        merged = subprocess.run(["git", "merge-file", "-L", "ours", "-L", "base", "-L", "theirs", "-p",
                                 *map(str, (texts[1], texts[0], texts[2]))], capture_output=True, text=True)
        if merged.returncode == 0:
            texts[1].write_text(merged.stdout)
            subprocess.run([sys.executable, str(HERE / "nbtext.py"), "load", str(texts[1]), ours], check=True)
            return 0
        Path(name + ".conflict.py").write_text(merged.stdout)
        print(f"nbmerge: {name}: conflicts left in {name}.conflict.py", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
