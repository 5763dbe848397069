"""`load -i DIR` reads only regular files inside DIR, whatever manifest.json, index.json or the
symlinks in DIR say: absolute names, `..` and symlinks out are refused with one line, FIFOs never
hang it, and the store stays as it was."""
import json, os, shutil, tarfile

import pytest

from image_helpers import rootfs_tar, snapshot
from support import require_root


@pytest.fixture
def layout(minidocker, tmp_path):
    """An image saved by minidocker and unpacked into a directory (docker-archive + OCI layout),
    plus a copy of all of it OUTSIDE the directory: a loader that follows a name out would succeed."""
    require_root()
    assert minidocker("import", rootfs_tar(tmp_path / "r.tar"), "tiny:1").returncode == 0
    assert minidocker("save", "-o", tmp_path / "tiny.tar", "tiny:1").returncode == 0
    assert minidocker("rmi", "tiny:1").returncode == 0
    directory, outside = tmp_path / "dir", tmp_path / "outside"
    for target in (directory, outside):
        with tarfile.open(tmp_path / "tiny.tar") as tar:
            tar.extractall(target)                     # our own archive: plain files
    return directory, outside, json.loads((directory / "manifest.json").read_text())[0]


def _refused(minidocker, tmp_path, directory, message):
    before = snapshot(tmp_path / "state")
    result = minidocker("load", "-i", directory, timeout=30)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stdout == "" and snapshot(tmp_path / "state") == before


def _rewrite(directory, **entry):
    doc = json.loads((directory / "manifest.json").read_text())
    doc[0].update(entry)
    (directory / "manifest.json").write_text(json.dumps(doc))


def test_the_untouched_layout_loads(minidocker, layout):
    directory, _, _ = layout
    result = minidocker("load", "-i", directory)
    assert (result.returncode, result.stdout) == (0, "Loaded image: tiny:1\n")


def test_absolute_and_dotdot_names_stay_inside(minidocker, tmp_path, layout):
    directory, outside, entry = layout
    for config in (str(outside / entry["Config"]), "../outside/" + entry["Config"]):
        _rewrite(directory, Config=config)
        _refused(minidocker, tmp_path, directory, "is missing")
    _rewrite(directory, Config=entry["Config"], Layers=["../outside/" + entry["Layers"][0]])
    _refused(minidocker, tmp_path, directory, "is missing")


def test_symlinks_out_are_not_followed(minidocker, tmp_path, layout):
    directory, outside, entry = layout
    for link in (outside / entry["Layers"][0], "../../../outside/" + entry["Layers"][0]):
        layer = directory / entry["Layers"][0]
        layer.unlink()
        layer.symlink_to(link)
        _refused(minidocker, tmp_path, directory, "is missing")
    shutil.rmtree(directory / "blobs")                 # a whole directory as a symlink out
    (directory / "blobs").symlink_to(outside / "blobs")
    _refused(minidocker, tmp_path, directory, "is missing")


def test_oci_layout_blobs_are_confined_too(minidocker, tmp_path, layout):
    directory, outside, entry = layout
    (directory / "manifest.json").unlink()             # now read as an OCI layout (index.json)
    layer = directory / entry["Layers"][0]
    layer.unlink()
    layer.symlink_to(outside / entry["Layers"][0])
    _refused(minidocker, tmp_path, directory, "is missing")


def test_a_fifo_or_directory_is_not_read(minidocker, tmp_path, layout):
    directory, _, entry = layout
    layer = directory / entry["Layers"][0]
    layer.unlink()
    os.mkfifo(layer)                                   # reading it would hang load forever
    _refused(minidocker, tmp_path, directory, "is not a regular file")
    layer.unlink()
    layer.mkdir()
    _refused(minidocker, tmp_path, directory, "is not a regular file")
