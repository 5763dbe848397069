"""Fixtures for the registry client's tests (`pytest_plugins = ["registry_fixtures"]`): a private
configuration, OCI layouts made by umoci, a seeded CNCF registry, and a misbehaving proxy in front of it."""
import shutil

import pytest

from registry_support import Proxy, Registry, add_platform_index, seed, umoci_layout
from support import require, require_root


@pytest.fixture
def private_config(tmp_path, monkeypatch):
    """Credentials and daemon.json of the test's own; never the Hub."""
    monkeypatch.setenv("MINIDOCKER_CONFIG", str(tmp_path / "dotminidocker"))
    monkeypatch.setenv("MINIDOCKER_DAEMON_JSON", str(tmp_path / "etc/daemon.json"))
    monkeypatch.setenv("MINIDOCKER_HUB", "http://127.0.0.1:9")      # discard port: nothing answers


@pytest.fixture(scope="session")
def layouts(tmp_path_factory, busybox_rootfs):
    require_root()
    for tool in ("skopeo", "umoci", "docker-registry"):
        require(shutil.which(tool), f"{tool} is not installed (./course setup installs it)")
    layout = tmp_path_factory.mktemp("layouts") / "L"
    refs = {"bb": umoci_layout(layout, busybox_rootfs, "bb"),
            "two": umoci_layout(layout, busybox_rootfs, "two", {"etc/two": "two\n"})}
    refs["multi"] = add_platform_index(layout, "bb", "multi")
    return refs


@pytest.fixture
def registry(tmp_path, layouts):
    reg = Registry(tmp_path / "registry")
    try:
        seed(layouts["bb"], reg, "library/busybox:latest")
        seed(layouts["two"], reg, "tests/two:1")
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def proxy(registry):
    p = Proxy(registry)
    yield p
    p.close()
