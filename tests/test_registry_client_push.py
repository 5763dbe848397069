"""minidocker pushes to the CNCF registry with Docker's lines (HEAD first, cross-repository mounts,
streamed uploads, the manifest checked against Docker-Content-Digest); skopeo and podman pull what
it pushed and podman runs it; a push killed half way succeeds when repeated."""
import json, os, signal, subprocess, sys

import pytest

from registry_support import digest_of, seed, skopeo
from support import mkrootfs
from test_image_podman import PATH_ENV, podman  # noqa: F401 (fixture)

pytest_plugins = ["registry_fixtures"]           # registry, proxy, layouts, private_config
pytestmark = pytest.mark.usefixtures("private_config")


def _import(minidocker, tmp_path, name):
    rootfs = mkrootfs(tmp_path / "busybox")
    imported = minidocker("import", "-c", 'CMD ["sh"]', "-c", f"ENV {PATH_ENV}", rootfs, name)
    assert imported.returncode == 0, imported.stderr
    doc = json.loads(minidocker("image", "inspect", name).stdout)[0]
    return doc["RootFS"]["Layers"][0][7:19]


def test_push_prints_dockers_lines_and_podman_runs_the_image(minidocker, registry, podman, tmp_path):
    name = f"{registry.host}/mine/busybox:1"
    layer = _import(minidocker, tmp_path, name)
    pushed = minidocker("push", name)
    assert pushed.returncode == 0, pushed.stderr
    digest = digest_of(registry, "mine/busybox:1")
    size = len(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}").stdout.encode())
    assert pushed.stdout.splitlines() == [f"The push refers to repository [{registry.host}/mine/busybox]",
                                          f"{layer}: Preparing", f"{layer}: Pushed", f"1: digest: {digest} size: {size}"]
    doc = json.loads(minidocker("image", "inspect", name).stdout)[0]
    assert doc["RepoDigests"] == [f"{registry.host}/mine/busybox@{digest}"]
    pulled = podman("pull", "-q", "--tls-verify=false", name)
    assert pulled.returncode == 0, pulled.stderr
    ran = podman("run", "--rm", "--network", "none", name, "sh", "-c", "echo pushed by minidocker")
    assert (ran.returncode, ran.stdout) == (0, "pushed by minidocker\n"), ran.stderr
    skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{name}", f"oci:{tmp_path}/copied:1")
    assert (tmp_path / "copied/index.json").exists()


def test_a_second_push_finds_the_layer_and_another_repository_mounts_it(minidocker, registry, tmp_path):
    name = f"{registry.host}/mine/busybox:1"
    layer = _import(minidocker, tmp_path, name)
    assert minidocker("push", name).returncode == 0
    again = minidocker("push", name)
    assert f"{layer}: Layer already exists" in again.stdout.splitlines(), again.stdout
    assert minidocker("tag", name, f"{registry.host}/other/copy:2").returncode == 0
    mounted = minidocker("push", f"{registry.host}/other/copy:2")
    assert f"{layer}: Mounted from mine/busybox" in mounted.stdout.splitlines(), mounted.stdout
    assert digest_of(registry, "other/copy:2") == digest_of(registry, "mine/busybox:1")


def test_push_errors_are_one_line(minidocker, registry):
    missing = minidocker("push", f"{registry.host}/not/here:1")
    assert (missing.returncode, missing.stderr) == (
        1, f"minidocker: An image does not exist locally with the tag: {registry.host}/not/here\n")


def test_a_push_killed_half_way_succeeds_when_repeated(minidocker, proxy, tmp_path):
    name = f"{proxy.host}/mine/busybox:1"
    layer = _import(minidocker, tmp_path, name)
    proxy.faults["hold_uploads"] = True
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    push = subprocess.Popen([sys.executable, "-m", "minidocker", "push", name], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert proxy.held.wait(60), "the push never uploaded"
    finally:
        push.send_signal(signal.SIGKILL)
        push.wait()
    proxy.faults = {}
    again = minidocker("push", name)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-2:-1] == [f"{layer}: Pushed"] and again.stdout.splitlines()[-1].startswith("1: digest: ")
    assert json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{proxy.upstream.host}/mine/busybox:1").stdout)["Layers"]


def test_a_docker_schema2_image_goes_back_as_it_came(minidocker, registry, layouts):
    seed(layouts["bb"], registry, "tests/docker:v2s2", fmt="v2s2")
    assert minidocker("pull", f"{registry.host}/tests/docker:v2s2").returncode == 0
    assert minidocker("tag", f"{registry.host}/tests/docker:v2s2", f"{registry.host}/copies/docker:1").returncode == 0
    pushed = minidocker("push", f"{registry.host}/copies/docker:1")
    assert pushed.returncode == 0, pushed.stderr
    assert digest_of(registry, "copies/docker:1") == digest_of(registry, "tests/docker:v2s2")
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/copies/docker:1").stdout)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"


def test_a_wrong_docker_content_digest_on_push_is_an_error(minidocker, proxy, tmp_path):
    name = f"{proxy.host}/mine/busybox:1"
    _import(minidocker, tmp_path, name)
    proxy.faults["wrong_digest"] = True
    pushed = minidocker("push", name)
    assert pushed.returncode == 1 and pushed.stderr.startswith(f"minidocker: the registry stored the manifest as sha256:{'0' * 64}")
    assert json.loads(minidocker("image", "inspect", name).stdout)[0]["RepoDigests"] == []


def test_push_all_tags(minidocker, registry, tmp_path):
    name = f"{registry.host}/mine/busybox"
    _import(minidocker, tmp_path, f"{name}:1")
    assert minidocker("tag", f"{name}:1", f"{name}:2").returncode == 0
    pushed = minidocker("push", "-a", name)
    assert pushed.returncode == 0, pushed.stderr
    assert [line.split(":")[0] for line in pushed.stdout.splitlines() if ": digest: " in line] == ["1", "2"]
    assert digest_of(registry, "mine/busybox:2") == digest_of(registry, "mine/busybox:1")
