"""Docker Hub's token flow against the CNCF registry configured with `auth: token` (distribution
checks the JWTs of a token server the test runs, as registry-1.docker.io checks auth.docker.io's),
basic auth against `auth: htpasswd`, login/logout and their config.json, and Hub's defaults
(`busybox` is docker.io/library/busybox) on a host standing in for the Hub."""
import base64, json, os, stat, subprocess, sys

import pytest

from registry_support import Registry, TokenServer, htpasswd_config, seed

pytest_plugins = ["registry_fixtures"]           # registry, proxy, layouts, private_config
pytestmark = pytest.mark.usefixtures("private_config")


@pytest.fixture(params=[True, False], ids=["oauth", "get-only"])
def token_registry(request, tmp_path, layouts):
    tokens = TokenServer(tmp_path / "auth", oauth=request.param)
    reg = Registry(tmp_path / "registry", auth=tokens.auth_config())
    try:
        seed(layouts["bb"], reg, "library/busybox:latest", creds="alice:secret")
        seed(layouts["bb"], reg, "private/busybox:1", creds="alice:secret")
        tokens.requests.clear()
        yield reg, tokens
    finally:
        reg.stop()
        tokens.close()


def test_anonymous_pull_with_a_token_the_registry_checks(minidocker, token_registry):
    reg, tokens = token_registry
    result = minidocker("pull", f"{reg.host}/library/busybox")
    assert result.returncode == 0, result.stderr
    assert (None, ["repository:library/busybox:pull"]) in tokens.requests
    assert tokens.posts == [], "without credentials Docker never POSTs to the realm"
    denied = minidocker("pull", f"{reg.host}/private/busybox:1")
    assert (denied.returncode, denied.stderr) == (1, f"minidocker: pull access denied for {reg.host}/private/busybox, "
                                                  "repository does not exist or may require 'docker login': "
                                                  "unauthorized: authentication required\n")


def test_login_push_logout_with_tokens(minidocker, token_registry, tmp_path):
    reg, tokens = token_registry
    assert minidocker("pull", f"{reg.host}/library/busybox").returncode == 0
    assert minidocker("tag", f"{reg.host}/library/busybox", f"{reg.host}/alice/bb:1").returncode == 0
    anonymous = minidocker("push", f"{reg.host}/alice/bb:1")
    assert (anonymous.returncode, anonymous.stderr) == (1, "minidocker: unauthorized: authentication required\n")
    wrong = minidocker("login", "-u", "alice", "--password-stdin", reg.host, input="nope\n")
    assert (wrong.returncode, wrong.stderr) == (1, f'minidocker: Get "http://{reg.host}/v2/": unauthorized: incorrect username or password\n')
    good = minidocker("login", "-u", "alice", "--password-stdin", reg.host, input="secret\n")
    assert (good.returncode, good.stdout) == (0, "Login Succeeded\n"), good.stderr
    config = tmp_path / "dotminidocker/config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["auths"][reg.host]["auth"] == base64.b64encode(b"alice:secret").decode()
    pushed = minidocker("push", f"{reg.host}/alice/bb:1")
    assert pushed.returncode == 0, pushed.stderr
    assert ("alice", ["repository:alice/bb:pull,push", "repository:library/busybox:pull"]) in tokens.requests
    # with credentials, Docker POSTs OAuth2's password grant first; a GET-only server's 404 sends it to GET
    oauth = {"grant_type": "password", "username": "alice", "service": tokens.service, "client_id": "docker",
             "access_type": "offline", "scope": "repository:alice/bb:pull,push repository:library/busybox:pull"}
    assert (oauth in tokens.posts) == tokens.oauth and (tokens.oauth or not tokens.posts)
    assert "Mounted from library/busybox" in pushed.stdout
    assert minidocker("pull", f"{reg.host}/private/busybox:1").returncode == 0
    out = minidocker("logout", reg.host)
    assert (out.returncode, out.stdout) == (0, f"Removing login credentials for {reg.host}\n")
    assert minidocker("logout", reg.host).stdout == f"Not logged in to {reg.host}\n"


def test_docker_hub_defaults_on_a_stand_in_hub(minidocker, token_registry, monkeypatch, tmp_path):
    reg, tokens = token_registry
    monkeypatch.setenv("MINIDOCKER_HUB", reg.url)
    env = dict(os.environ, MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    env.pop("PYTEST_CURRENT_TEST", None)

    def run(*args):      # the `minidocker` fixture took its environment before MINIDOCKER_HUB was set
        return subprocess.run([sys.executable, "-m", "minidocker", *args], env=env, capture_output=True, text=True)
    pulled = run("pull", "busybox")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines()[1] == "latest: Pulling from library/busybox"
    assert pulled.stdout.splitlines()[-2:] == ["Status: Downloaded newer image for busybox:latest",
                                               "docker.io/library/busybox:latest"]
    assert run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout == "busybox:latest\n"
    assert run("login", "-u", "alice", "-p", "secret").stderr.startswith("WARNING! Using --password via the CLI is insecure.")
    auths = json.loads((tmp_path / "dotminidocker/config.json").read_text())["auths"]
    assert list(auths) == ["https://index.docker.io/v1/"]
    assert run("logout").stdout == "Removing login credentials for https://index.docker.io/v1/\n"


@pytest.fixture
def basic_registry(tmp_path, layouts):
    reg = Registry(tmp_path / "registry", auth=htpasswd_config(tmp_path / "auth", {"bob": "hunter2"}))
    try:
        seed(layouts["bb"], reg, "library/busybox:latest", creds="bob:hunter2")
        yield reg
    finally:
        reg.stop()


def test_basic_auth(minidocker, basic_registry):
    reg = basic_registry
    anonymous = minidocker("pull", f"{reg.host}/library/busybox")
    assert (anonymous.returncode, anonymous.stderr) == (1, "minidocker: no basic auth credentials\n")
    wrong = minidocker("login", "-u", "bob", "-p", "nope", reg.host)
    assert (wrong.returncode, wrong.stderr.splitlines()[-1]) == (
        1, f"minidocker: login attempt to http://{reg.host}/v2/ failed with status: 401 Unauthorized")
    assert minidocker("login", "-u", "bob", "--password-stdin", reg.host, input="hunter2").returncode == 0
    pulled = minidocker("pull", f"{reg.host}/library/busybox")
    assert pulled.returncode == 0, pulled.stderr


def test_login_without_a_terminal_needs_its_flags(minidocker):
    for args, message in ((["login", "127.0.0.1:9"], "Cannot perform an interactive login from a non TTY device"),
                          (["login", "--password-stdin", "127.0.0.1:9"], "Must provide --username with --password-stdin")):
        result = minidocker(*args, input="")
        assert (result.returncode, result.stderr) == (1, f"minidocker: {message}\n"), args
