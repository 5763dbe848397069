"""A full disk while loading or importing an image: one line, exit 1 (as the docker CLI), the store as it was."""
import os, subprocess, sys

import pytest

from image_helpers import snapshot
from support import require_root


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs as minidocker's whole state root."""
    require_root()
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "minidocker-test", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_loses_nothing(small_disk, tmp_path, busybox_rootfs):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["MINIDOCKER_ROOT"] = str(small_disk)

    def minidocker(*args):
        return subprocess.run([sys.executable, "-m", "minidocker", *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=120)

    (tmp_path / "small").mkdir()
    (tmp_path / "small/hello").write_text("hello\n")
    assert minidocker("import", tmp_path / "small", "small:1").returncode == 0
    before = snapshot(small_disk)
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(4 * 1024 * 1024))      # random: gzip can't shrink it
    result = minidocker("import", big, "big:1")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("minidocker: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert snapshot(small_disk) == before
    assert minidocker("image", "ls", "-q").stdout.split() == [minidocker("image", "inspect", "-f", "{{.Id}}", "small:1").stdout.strip()[7:19]]
