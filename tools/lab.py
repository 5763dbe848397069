"""Open the course in JupyterLab (`sudo ./course lab` runs this in the course's venv).

The kernels run as root: namespaces, mounts and cgroups need root's privileges. So the server
listens on 127.0.0.1 only and asks for a fresh token; from a laptop outside the course's VM, the
Vagrantfile's SSH tunnel brings the port home (see README.md).
"""
import argparse
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_0 = "00_what_is_docker.ipynb"


def first(course=ROOT) -> str:
    """Chapter 0 of the student's workbook (`./course workbook`) if there is one, else the book's."""
    return f"workbook/{CHAPTER_0}" if (Path(course) / "workbook" / CHAPTER_0).exists() else f"notebooks/{CHAPTER_0}"


def command(port: int, token: str, course=ROOT, checkpoints=None, extra=()) -> list:
    """The `jupyter lab` command line: root, loopback, token, opening chapter 0."""
    args = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
            f"--ServerApp.root_dir={course}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.default_url=/lab/tree/{first(course)}"]
    if checkpoints:      # keep .ipynb_checkpoints off a VM's synced folder
        args.append(f"--FileCheckpoints.root_dir={checkpoints}")
    return [*args, *extra]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="course lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("MINIDOCKER_LAB_PORT", 8888)))
    parser.add_argument("--course", default=ROOT, help="the directory with notebooks/ (default: this checkout)")
    parser.add_argument("--checkpoints", help="keep notebook checkpoints in this directory")
    args, extra = parser.parse_known_args(argv)
    token = os.environ.get("MINIDOCKER_LAB_TOKEN") or secrets.token_urlsafe(24)
    chapter = first(args.course)
    url = f"http://127.0.0.1:{args.port}/lab/tree/{chapter}?token={token}"
    edition = ("your workbook (workbook/): the exercises are yours to write, `sudo ./course check N` grades them"
               if chapter.startswith("workbook/") else
               "the book's edition (notebooks/), with the solutions: `./course workbook` makes yours")
    print(f"\nThe course is at\n\n    {url}\n\nopen it in your browser (Ctrl-C stops JupyterLab). It opens {edition}.\n",
          flush=True)
    os.execv(sys.executable, command(args.port, token, args.course, args.checkpoints, extra))


if __name__ == "__main__":
    sys.exit(main())
