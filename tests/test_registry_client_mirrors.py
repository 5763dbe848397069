"""Mirrors as Docker uses them: `registry-mirrors` in daemon.json are tried first for Docker Hub
images, in order; a mirror that is down is skipped, and when none answers the pull falls back to
the upstream. The mirror is the CNCF registry as a pull-through cache (`proxy.remoteurl`) of a
registry that stands in for the Hub."""
import json, os, subprocess, sys

import pytest

from registry_support import Registry, seed

pytest_plugins = ["registry_fixtures"]           # registry, proxy, layouts, private_config
pytestmark = pytest.mark.usefixtures("private_config")


@pytest.fixture
def hub_and_mirror(tmp_path, layouts, monkeypatch):
    hub = Registry(tmp_path / "hub")
    mirror = None
    try:
        seed(layouts["bb"], hub, "library/busybox:latest")
        seed(layouts["two"], hub, "library/two:1")
        mirror = Registry(tmp_path / "mirror", proxy=hub.url)
        daemon = tmp_path / "etc/daemon.json"
        daemon.parent.mkdir(parents=True)
        daemon.write_text(json.dumps({"registry-mirrors": ["http://127.0.0.1:9", mirror.url]}))  # the first is down
        monkeypatch.setenv("MINIDOCKER_HUB", hub.url)
        yield hub, mirror
    finally:
        hub.stop()
        if mirror:
            mirror.stop()


def _cli(tmp_path):
    env = dict(os.environ, MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    env.pop("PYTEST_CURRENT_TEST", None)
    return lambda *args: subprocess.run([sys.executable, "-m", "minidocker", *args], env=env, capture_output=True, text=True)


def test_pull_goes_through_the_mirror_and_falls_back_when_it_is_gone(hub_and_mirror, tmp_path):
    hub, mirror = hub_and_mirror
    minidocker = _cli(tmp_path)
    pulled = minidocker("pull", "busybox")
    assert pulled.returncode == 0, pulled.stderr
    digest = pulled.stdout.splitlines()[-3].split()[1]
    assert mirror.blob_file(digest).exists()              # the mirror fetched it from upstream and kept it
    mirror.stop()
    fallback = minidocker("pull", "two:1")
    assert fallback.returncode == 0, fallback.stderr
    assert fallback.stdout.splitlines()[-1] == "docker.io/library/two:1"
    ran = minidocker("run", "--rm", "two:1", "cat", "/etc/two")
    assert ran.stdout == "two\n", ran.stderr


def test_a_registry_other_than_the_hub_never_uses_the_mirrors(hub_and_mirror, tmp_path):
    hub, mirror = hub_and_mirror
    minidocker = _cli(tmp_path)
    pulled = minidocker("pull", f"{hub.host}/library/busybox")
    assert pulled.returncode == 0, pulled.stderr
    digest = pulled.stdout.splitlines()[-3].split()[1]
    assert not mirror.blob_file(digest).exists()
