"""Interop, the other way round: an image minidocker saves (docker-archive and OCI archive) loads
into podman and runs there, under podman's own runtime (runc; crun refuses hybrid cgroups). Podman
is configured for this machine as ../shared/NOTES.md says (cgroupfs, file events, no network
namespace, ulimits it may set) and keeps everything it writes — storage, state, network
configs — in the test's tmp, which `system reset` empties again."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from support import PODMAN_CONF, ROOT, mkrootfs, require, require_root

CONF = PODMAN_CONF + """[network]
network_config_dir = "{work}/networks"
"""
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _libpod_cgroups():
    return {str(p) for p in Path("/sys/fs/cgroup").glob("*/libpod_parent") if p.is_dir()}


def _mounts_under(path):
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(f"{path}/")]


@pytest.fixture
def podman():
    """`podman ARGS…` on a private storage under tmp, run by runc; cleaned up completely."""
    require_root()
    for tool in ("podman", "runc"):
        require(shutil.which(tool), f"{tool} is not installed (./course setup installs it)")
    work = Path(tempfile.mkdtemp(prefix="minidocker-podman-"))  # short: podman refuses a runroot of 50+ characters
    (work / "containers.conf").write_text(CONF.format(work=work))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["CONTAINERS_CONF"] = str(work / "containers.conf")
    base = ["podman", "--root", str(work / "storage"), "--runroot", str(work / "run"), "--tmpdir", str(work / "tmp"),
            "--storage-driver", "vfs", "--runtime", "runc"]
    cgroups_before = _libpod_cgroups()

    def run(*args, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run([*base, *map(str, args)], env=env, timeout=120, **kw)
    yield run
    reset = run("system", "reset", "--force")
    for target in reversed(_mounts_under(work)):
        subprocess.run(["umount", "-l", target])
    for directory in _libpod_cgroups() - cgroups_before:  # conmon's cgroup parent, made by this test
        for child in sorted(Path(directory).glob("*/"), reverse=True):
            if child.is_dir():
                try:
                    child.rmdir()
                except OSError:
                    pass
        try:
            os.rmdir(directory)
        except OSError:
            pass
    left = sorted(p.name for p in work.iterdir() if p.name not in ("containers.conf", "networks"))  # cni.lock
    shutil.rmtree(work, ignore_errors=True)
    assert reset.returncode == 0, reset.stderr
    assert left == [], f"podman left {left} after its reset"


def _load(podman, archive) -> str:
    """podman load; return what `podman images` then lists, as 'ID REPOSITORY:TAG' lines."""
    loaded = podman("load", "-q", "-i", archive)
    assert loaded.returncode == 0, loaded.stderr
    listed = podman("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_runs_what_minidocker_saves(minidocker, podman, tmp_path, fmt):
    rootfs = mkrootfs(tmp_path / "busybox")
    imported = minidocker("import", "-c", 'CMD ["sh"]', "-c", f"ENV {PATH_ENV}", rootfs, "busybox:latest")
    assert imported.returncode == 0, imported.stderr
    image_id = imported.stdout.strip()
    saved = minidocker("save", "--format", fmt, "-o", tmp_path / "x.tar", "busybox:latest")
    assert saved.returncode == 0, saved.stderr

    listed = _load(podman, tmp_path / "x.tar")
    # the same config, so the same image ID; and the name survives the trip in both formats
    assert listed.split() == [image_id, "docker.io/library/busybox:latest"], listed
    config = json.loads(podman("image", "inspect", "busybox:latest").stdout)[0]["Config"]
    assert config["Cmd"] == ["sh"] and PATH_ENV in config["Env"]
    result = podman("run", "--rm", "--network", "none", "busybox:latest", "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr


STUB_DEBOOTSTRAP = """#!/bin/sh
# A stand-in for debootstrap (offline, in a second): a busybox tree, with what the real one adds
# that an image must not keep: device nodes in /dev, this host's name and resolver, apt's lists.
for a; do case $a in -*) ;; *) set -- "$@" "$a" ;; esac; shift; done
target=$2
{mkrootfs} "$target"
printf '#!/bin/sh\\nexec sh "$@"\\n' > "$target/bin/bash" && chmod 755 "$target/bin/bash"
mknod -m 666 "$target/dev/null" c 1 3 && mknod -m 666 "$target/dev/zero" c 1 5
mkdir "$target/dev/pts" && ln -s /proc/self/fd "$target/dev/fd"
mkdir -p "$target/usr/sbin" "$target/var/lib/apt/lists/partial" "$target/var/cache/apt" "$target/var/log"
echo leaked-host > "$target/etc/hostname" && echo "nameserver 192.0.2.1" > "$target/etc/resolv.conf"
echo lists > "$target/var/lib/apt/lists/deb.debian.org_debian_dists_$1_InRelease"
mkdir -p "$target/etc/apt" && echo "deb http://mirror.example/debian $1 main" > "$target/etc/apt/sources.list"
echo "debootstrap $*" > "$target/var/log/bootstrap.log"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (%s)"\\nID=debian\\n' "$1" > "$target/etc/os-release"
"""


def test_mkimage_debian_makes_an_image_podman_runs(minidocker, podman, tmp_path):
    """scripts/mkimage-debian's wiring, with a stub debootstrap: what it tidies and the config it
    sets (the real debootstrap needs the Debian mirror and about a minute; bench/bookworm.sh runs it)."""
    require(shutil.which("mknod"), "mknod is not installed")
    stubs, scratch = tmp_path / "stubs", tmp_path / "scratch"
    stubs.mkdir()
    scratch.mkdir()
    (stubs / "debootstrap").write_text(STUB_DEBOOTSTRAP.format(mkrootfs=ROOT / "scripts/mkrootfs-busybox"))
    (stubs / "debootstrap").chmod(0o755)
    state = tmp_path / "state"  # the `minidocker` fixture's root
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(PATH=f"{stubs}:{env['PATH']}", TMPDIR=str(scratch), MINIDOCKER_ROOT=str(state), PYTHON=sys.executable)
    made = subprocess.run([ROOT / "scripts/mkimage-debian", "bookworm"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("sha256:") and list(scratch.iterdir()) == []  # the tree is gone

    doc = json.loads(minidocker("image", "inspect", "debian:bookworm").stdout)[0]
    assert doc["Config"] == {"Cmd": ["bash"], "Env": [PATH_ENV]}
    assert doc["Comment"] == "debootstrap --variant=minbase bookworm"
    layer = Path(doc["GraphDriver"]["Data"]["UpperDir"])
    assert list((layer / "dev").iterdir()) == []
    assert (layer / "etc/hostname").read_text() == "" and (layer / "etc/resolv.conf").read_text() == ""
    assert [p.name for p in (layer / "var/lib/apt/lists").iterdir()] == ["partial"]
    assert list((layer / "var/log").iterdir()) == []
    assert (layer / "usr/sbin/policy-rc.d").stat().st_mode & 0o777 == 0o755
    assert (layer / "etc/apt/sources.list").read_text().splitlines()[1:] == [
        "deb http://mirror.example/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main"]

    assert minidocker("save", "-o", tmp_path / "debian.tar", "debian:bookworm").returncode == 0
    _load(podman, tmp_path / "debian.tar")
    ran = podman("run", "--rm", "--network", "none", "debian:bookworm", "sh", "-c",
                 "grep PRETTY /etc/os-release; test -c /dev/null && echo dev ok")
    assert (ran.returncode, ran.stdout) == (0, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\ndev ok\n'), ran.stderr
    assert podman("run", "--rm", "--network", "none", "debian:bookworm").returncode == 0  # CMD bash, stdin closed
