"""Helpers shared by the image tests: tiny rootfs tarballs, and snapshots of a store on disk."""
import hashlib, io, os, tarfile
from pathlib import Path


def rootfs_tar(path, files=None, message="hello"):
    """A small rootfs tarball: a few directories and the given {name: text} files."""
    files = files or {"etc/motd": message, "bin/hello": "#!/bin/sh\necho hello\n"}
    with tarfile.open(path, "w") as tar:
        for d in sorted({str(Path(n).parent) for n in files}):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return Path(path)


def snapshot(state):
    """{relative path: sha256 or 'dir'} of an image store, ignoring the lock file and tmp/."""
    root = Path(state) / "image"
    found = {}
    for dirpath, dirs, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts[:1] == ("tmp",):
            continue
        for name in files:
            if str(rel / name) == ".lock":
                continue
            path = Path(dirpath) / name
            found[str(rel / name)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else "special"
        for name in dirs:
            found[str(rel / name)] = "dir"
    return found
