"""Interop both ways with real peers: images made by umoci and skopeo load and run in minidocker,
and images saved by minidocker are read by skopeo and unpacked by umoci."""
import json, os, shutil, subprocess

import pytest

from support import require, require_root


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


@pytest.fixture
def peers():
    require_root()
    for tool in ("skopeo", "umoci"):
        require(shutil.which(tool), f"{tool} is not installed (./course setup installs it)")


@pytest.fixture
def umoci_image(tmp_path, busybox_rootfs, peers):
    """A busybox OCI layout made by umoci (init, new, unpack, repack, config)."""
    layout, bundle = tmp_path / "layout", tmp_path / "bundle"
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:bb")
    run("umoci", "unpack", "--image", f"{layout}:bb", bundle)
    shutil.rmtree(bundle / "rootfs")
    shutil.copytree(busybox_rootfs, bundle / "rootfs", symlinks=True)
    run("umoci", "repack", "--image", f"{layout}:bb", bundle)
    run("umoci", "config", "--image", f"{layout}:bb", "--config.cmd", "sh", "--config.label", "made.by=umoci")
    return layout


@pytest.mark.parametrize("transport", ["docker-archive", "oci-archive"])
def test_an_image_made_by_umoci_and_skopeo_loads(minidocker, umoci_image, tmp_path, transport):
    archive = tmp_path / "image.tar"
    run("skopeo", "copy", "-q", f"oci:{umoci_image}:bb", f"{transport}:{archive}:example.com/umoci/busybox:1")
    result = minidocker("load", "-i", archive)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Loaded image: example.com/umoci/busybox:1\n"
    doc = json.loads(minidocker("image", "inspect", "example.com/umoci/busybox:1").stdout)[0]
    assert doc["Config"]["Cmd"] == ["sh"] and doc["Config"]["Labels"]["made.by"] == "umoci"
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isfile(os.path.join(upper, "bin/busybox"))
    assert minidocker("image", "ls", "-q", "-f", "label=made.by=umoci").stdout.strip() == doc["Id"][7:19]
    ran = minidocker("run", "--rm", "example.com/umoci/busybox:1", "sh", "-c", "echo ran in $(hostname)")
    assert (ran.returncode, ran.stdout[:7]) == (0, "ran in "), ran.stderr


def test_an_oci_layout_directory_loads(minidocker, umoci_image):
    result = minidocker("load", "-i", umoci_image)
    assert result.returncode == 0 and result.stdout.startswith("Loaded image ID: sha256:")  # 'bb' is only a tag


@pytest.fixture
def saved(minidocker, busybox_rootfs, tmp_path, peers):
    assert minidocker("import", "-c", 'CMD ["sh"]', busybox_rootfs, "busybox:latest").returncode == 0
    image_id = minidocker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    for fmt in ("docker-archive", "oci-archive"):
        result = minidocker("save", "--format", fmt, "-o", tmp_path / f"{fmt}.tar", "busybox")
        assert result.returncode == 0, result.stderr
    return image_id


def test_skopeo_reads_what_minidocker_saves(saved, tmp_path):
    archive = f"docker-archive:{tmp_path}/docker-archive.tar"
    # skopeo's RepoTags lists a registry's tags (always [] for an archive); it finds an image in
    # an archive by the RepoTags of its manifest.json, so naming the tag is the real check
    docker = json.loads(run("skopeo", "inspect", f"{archive}:busybox:latest").stdout)
    missing = subprocess.run(["skopeo", "inspect", f"{archive}:nosuch:latest"], capture_output=True, text=True)
    assert missing.returncode != 0 and "not found" in missing.stderr
    config = json.loads(run("skopeo", "inspect", "--config", archive).stdout)
    assert config["config"]["Cmd"] == ["sh"] and len(config["rootfs"]["diff_ids"]) == 1
    assert docker["Layers"] == config["rootfs"]["diff_ids"]        # docker save's layers: plain tars
    oci = json.loads(run("skopeo", "inspect", "--config", f"oci-archive:{tmp_path}/oci-archive.tar").stdout)
    assert oci == config
    # and copies it on, through every transport, back into an OCI layout
    run("skopeo", "copy", "-q", f"docker-archive:{tmp_path}/docker-archive.tar", f"oci:{tmp_path}/copied:latest")
    assert (tmp_path / "copied/index.json").exists()


def test_umoci_unpacks_what_minidocker_saves(saved, tmp_path):
    for fmt in ("docker-archive", "oci-archive"):  # a docker-archive is an OCI layout too (Docker 25)
        layout = tmp_path / f"{fmt}-layout"
        layout.mkdir()
        run("tar", "-xf", tmp_path / f"{fmt}.tar", "-C", layout)
        bundle = tmp_path / f"{fmt}-bundle"
        run("umoci", "unpack", "--image", f"{layout}:latest", bundle)
        assert (bundle / "rootfs/bin/busybox").is_file() and os.path.islink(bundle / "rootfs/bin/sh")
        assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["sh"]


def test_round_trip_keeps_the_image_id(minidocker, saved, tmp_path):
    for fmt in ("docker-archive", "oci-archive"):
        assert minidocker("rmi", "busybox").returncode == 0
        assert minidocker("load", "-i", tmp_path / f"{fmt}.tar").stdout == "Loaded image: busybox:latest\n"
        assert minidocker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip() == saved
