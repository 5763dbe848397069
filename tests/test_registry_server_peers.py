"""Real clients against `minidocker registry serve`: skopeo copies, inspects, lists and deletes;
podman pulls, runs and pushes; a push killed midway leaves no blob behind."""
import json, os, shutil, signal, socket, subprocess, time

import pytest

from registry_server_support import Server, busybox_layout, digest_of, run
from support import require, require_root
import test_image_podman

podman = test_image_podman.podman      # the fixture: podman on a private storage


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "registry")
    yield s
    s.stop()


@pytest.fixture
def layout(tmp_path, busybox_rootfs):
    require_root()
    return busybox_layout(tmp_path, busybox_rootfs)


def skopeo(*args):
    result = run("skopeo", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_skopeo_push_inspect_list_pull_delete(server, layout, tmp_path):
    ref = f"docker://{server.addr}/course/busybox"
    skopeo("copy", "-q", f"oci:{layout}:bb", f"{ref}:1", "--dest-tls-verify=false")
    skopeo("copy", "-q", f"oci:{layout}:bb", f"{ref}:2", "--dest-tls-verify=false")
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"{ref}:1"))
    assert sorted(info["RepoTags"]) == ["1", "2"] and len(info["Layers"]) == 1
    assert json.loads(skopeo("list-tags", "--tls-verify=false", ref))["Tags"] == ["1", "2"]
    skopeo("copy", "-q", "--src-tls-verify=false", f"{ref}:1", f"oci:{tmp_path}/back:bb")
    original = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    pulled = json.loads((tmp_path / "back/index.json").read_text())["manifests"][0]["digest"]
    assert pulled == original                             # byte for byte: the same manifest digest
    skopeo("delete", "--tls-verify=false", f"{ref}:1")
    assert json.loads(skopeo("list-tags", "--tls-verify=false", ref))["Tags"] == []   # both tags named it
    assert run("skopeo", "inspect", "--tls-verify=false", f"{ref}:2").returncode != 0


def test_podman_pulls_runs_and_pushes(server, layout, podman):
    skopeo("copy", "-q", f"oci:{layout}:bb", f"docker://{server.addr}/course/busybox:1", "--dest-tls-verify=false")
    pulled = podman("pull", "--tls-verify=false", f"{server.addr}/course/busybox:1")
    assert pulled.returncode == 0, pulled.stderr
    ran = podman("run", "--rm", "--network", "none", f"{server.addr}/course/busybox:1", "echo", "ran from the registry")
    assert (ran.returncode, ran.stdout) == (0, "ran from the registry\n"), ran.stderr
    pushed = podman("push", "--tls-verify=false", f"{server.addr}/course/busybox:1", f"{server.addr}/other/copy:2")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{server.addr}/other/copy"))["Tags"] == ["2"]


def test_ten_skopeo_pushes_at_once_share_layers_and_lose_nothing(server, layout, tmp_path):
    pushes = [subprocess.Popen(["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:bb",
                                f"docker://{server.addr}/class/app{i}:1"], stderr=subprocess.PIPE, text=True)
              for i in range(10)]
    for push in pushes:
        assert push.wait(120) == 0, push.stderr.read()
        push.stderr.close()
    digests = {json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{server.addr}/class/app{i}:1"))["Digest"]
               for i in range(10)}
    assert len(digests) == 1
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{server.addr}/class/app7:1", f"oci:{tmp_path}/back:bb")
    assert len(list((server.root / "blobs/sha256").glob("*/*"))) == 3       # layer, config, manifest: once each


def test_a_push_killed_midway_leaves_no_blob(tmp_path):
    root = tmp_path / "registry"
    server = Server(root)
    status, headers, _ = server.request("POST", "/v2/a/blobs/uploads/")
    data = os.urandom(4 << 20)
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(f"PATCH {headers['location']} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data[:len(data) // 2])
        time.sleep(0.5)
        server.process.send_signal(signal.SIGKILL)            # the server dies mid-body
        server.process.wait()
    server.stop()
    assert list((root / "blobs/sha256").glob("*/*")) == []
    again = Server(root)
    try:
        assert again.request("HEAD", f"/v2/a/blobs/{digest_of(data)}")[0] == 404
        status, _, body = again.request("PUT", f"{headers['location']}?digest={digest_of(data)}")
        assert status == 400 and json.loads(body)["errors"][0]["code"] == "DIGEST_INVALID"
        assert list((root / "blobs/sha256").glob("*/*")) == []
    finally:
        again.stop()


def test_skopeo_needs_no_docker_hub(server):
    require(shutil.which("skopeo"), "skopeo is not installed (./course setup installs it)")
    result = run("skopeo", "inspect", "--tls-verify=false", f"docker://{server.addr}/missing/image:1")
    assert result.returncode != 0 and "manifest unknown" in result.stderr
