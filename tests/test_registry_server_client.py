"""minidocker's own registry client (chapter 7, first part) against minidocker's registry server with
token auth: the two halves of the chapter meet. Needs both halves (branches regclient and
regserver merged)."""
import importlib.util, json

import pytest

from registry_server_support import Server, busybox_layout, run
from support import require, require_root
from test_registry_server_auth import add_user


@pytest.fixture
def client_config(tmp_path, monkeypatch):
    require(importlib.util.find_spec("minidocker.registry.pull"),
            "minidocker's registry client (chapter 7, first part) is not in this tree")
    monkeypatch.setenv("MINIDOCKER_CONFIG", str(tmp_path / "dotminidocker"))


def test_minidockers_client_pulls_and_pushes_with_tokens(client_config, minidocker, tmp_path, busybox_rootfs):
    require_root()
    root = tmp_path / "registry"
    add_user(minidocker, root, "alice", "alice-pw")
    add_user(minidocker, root, "root", "root-pw", "admin")
    server = Server(root, "--auth", "token",
                    config='[[acl]]\nrepository = "library/*"\nsubjects = ["anonymous"]\nactions = ["pull"]\n')
    try:
        layout = busybox_layout(tmp_path, busybox_rootfs)
        seeded = run("skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "root:root-pw",
                     f"oci:{layout}:bb", f"docker://{server.addr}/library/busybox:latest")
        assert seeded.returncode == 0, seeded.stderr
        host = server.addr
        pulled = minidocker("pull", f"{host}/library/busybox")                         # anonymous pull
        assert pulled.returncode == 0, pulled.stderr
        assert minidocker("tag", f"{host}/library/busybox", f"{host}/alice/bb:1").returncode == 0
        anonymous = minidocker("push", f"{host}/alice/bb:1")
        assert anonymous.returncode == 1 and "unauthorized" in anonymous.stderr, anonymous.stderr
        wrong = minidocker("login", "-u", "alice", "--password-stdin", host, input="nope\n")
        assert wrong.returncode == 1 and "incorrect username or password" in wrong.stderr
        login = minidocker("login", "-u", "alice", "--password-stdin", host, input="alice-pw\n")
        assert (login.returncode, login.stdout) == (0, "Login Succeeded\n"), login.stderr
        pushed = minidocker("push", f"{host}/alice/bb:1")
        assert pushed.returncode == 0, pushed.stderr
        tags = run("skopeo", "list-tags", "--tls-verify=false", "--creds", "alice:alice-pw", f"docker://{host}/alice/bb")
        assert json.loads(tags.stdout)["Tags"] == ["1"]
        assert minidocker("tag", f"{host}/library/busybox", f"{host}/root/bb:1").returncode == 0
        denied = minidocker("push", f"{host}/root/bb:1")
        assert denied.returncode == 1 and "denied" in denied.stderr, denied.stderr
        assert minidocker("rmi", f"{host}/alice/bb:1").returncode == 0
        again = minidocker("pull", f"{host}/alice/bb:1")
        assert again.returncode == 0, again.stderr
    finally:
        server.stop()
