"""Users, access control and tokens: the ACL matrix, the token service, the gate, and real clients
(skopeo, podman, the CNCF registry trusting minidocker's tokens)."""
import base64, json, shutil, subprocess

import pytest

from registry_server_support import Server, busybox_layout, free_port, run, wait_for_port
from support import require, require_root
import test_image_podman

podman = test_image_podman.podman      # the fixture: podman on a private storage


def add_user(minidocker, root, name, password, *groups):
    flags = [f"--group={g}" for g in groups]
    result = minidocker("registry", "user", "add", name, *flags, "--root", root, "--password-stdin",
                        input=password + "\n")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def secured(tmp_path, minidocker):
    root = tmp_path / "registry"
    add_user(minidocker, root, "alice", "alice-pw")
    add_user(minidocker, root, "bob", "bob-pw")
    add_user(minidocker, root, "root", "root-pw", "admin")
    server = Server(root, "--auth", "token", config='[[acl]]\nrepository = "public/*"\nsubjects = ["anonymous"]\n'
                                                     'actions = ["pull"]\n')
    yield server
    server.stop()


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def token(server, scope, *credentials):
    status, _, body = server.request("GET", f"/token?service=minidocker-registry&scope={scope}",
                                     headers=basic(*credentials) if credentials else {})
    assert status == 200, body
    return json.loads(body)["token"]


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def refused(result):
    """A client failed because the registry said 403 or `denied` (a HEAD's 403 has no body)."""
    return result.returncode != 0 and ("denied" in result.stderr.lower() or "403" in result.stderr)


def bearer(jwt):
    return {"Authorization": f"Bearer {jwt}"}


def test_acl_matrix():
    from minidocker.registry.server.users import allowed_actions
    rules = [{"repository": "team/*", "subjects": ["@devs", "carol"], "actions": ["pull", "push"]}]
    matrix = {  # (user, groups, repository) -> allowed
        ("alice", (), "alice/app"): {"pull", "push", "delete"},
        ("alice", (), "bob/app"): set(),
        ("alice", (), "alice"): set(),                      # the namespace, not a repository in it
        ("alice", (), "alicex/app"): set(),
        ("", (), "alice/app"): set(),
        ("dave", ("devs",), "team/x"): {"pull", "push"},
        ("carol", (), "team/x/y"): {"pull", "push"},
        ("erin", (), "team/x"): set(),
        ("root", ("admin",), "bob/app"): {"pull", "push", "delete", "catalog"},
        ("teach", ("instructors",), "student01/app"): {"pull", "catalog"},
    }
    for (user, groups, repository), expected in matrix.items():
        assert allowed_actions(rules, user, groups, repository) == expected, (user, repository)
    assert allowed_actions([], "", [], "bob/app", anonymous_pull=True) == {"pull"}


def test_the_token_service_grants_what_the_rules_allow(secured):
    jwt = token(secured, "repository:alice/app:pull,push,delete", "alice", "alice-pw")
    header = json.loads(base64.urlsafe_b64decode(jwt.split(".")[0] + "=="))
    assert header["alg"] == "ES256" and header["x5c"] and len(header["kid"].split(":")) == 12
    found = claims(jwt)
    assert (found["iss"], found["aud"], found["sub"]) == ("minidocker", "minidocker-registry", "alice")
    assert found["access"] == [{"type": "repository", "name": "alice/app", "actions": ["pull", "push", "delete"]}]
    assert claims(token(secured, "repository:bob/app:pull,push", "alice", "alice-pw"))["access"][0]["actions"] == []
    assert claims(token(secured, "repository:public/x:pull,push"))["access"][0]["actions"] == ["pull"]
    assert claims(token(secured, "registry:catalog:*", "root", "root-pw"))["access"][0]["actions"] == ["*"]
    status, _, body = secured.request("GET", "/token?scope=repository:alice/app:pull", headers=basic("alice", "nope"))
    assert (status, json.loads(body)["errors"][0]["code"]) == (401, "UNAUTHORIZED")
    status, _, body = secured.request("POST", "/token", b"grant_type=password&username=alice&password=alice-pw"
                                      b"&service=minidocker-registry&scope=repository:alice/app:pull")
    assert status == 200 and claims(json.loads(body)["access_token"])["access"][0]["actions"] == ["pull"]


def test_the_gate_challenges_and_refuses(secured):
    status, headers, body = secured.request("GET", "/v2/alice/app/tags/list")
    assert (status, json.loads(body)["errors"][0]["code"]) == (401, "UNAUTHORIZED")
    assert headers["www-authenticate"] == (f'Bearer realm="http://{secured.addr}/token",service="minidocker-registry"'
                                           ',scope="repository:alice/app:pull"')
    alice = token(secured, "repository:alice/app:pull,push", "alice", "alice-pw")
    status, _, _ = secured.request("POST", "/v2/alice/app/blobs/uploads/", headers=bearer(alice))
    assert status == 202
    bobs = token(secured, "repository:alice/app:pull,push", "bob", "bob-pw")
    status, _, body = secured.request("POST", "/v2/alice/app/blobs/uploads/", headers=bearer(bobs))
    assert (status, json.loads(body)["errors"][0]["code"]) == (403, "DENIED")
    status, headers, _ = secured.request("POST", "/v2/other/app/blobs/uploads/", headers=bearer(alice))
    assert status == 401 and 'error="insufficient_scope"' in headers["www-authenticate"]
    status, _, _ = secured.request("GET", "/v2/_catalog", headers=bearer(alice))
    assert status == 401
    assert secured.request("GET", "/v2/_catalog", headers=bearer(token(secured, "registry:catalog:*", "root",
                                                                             "root-pw")))[0] == 200


def test_expired_forged_and_foreign_tokens_are_refused(secured, tmp_path):
    from minidocker.registry.server.tokens import SigningKey, issue
    real = SigningKey(secured.root / "auth")
    access = [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    forged = issue(SigningKey(tmp_path / "other-key"), "minidocker", "minidocker-registry", "alice", access)
    expired = issue(real, "minidocker", "minidocker-registry", "alice", access, ttl=-60)
    foreign = issue(real, "minidocker", "another-service", "alice", access)
    good = issue(real, "minidocker", "minidocker-registry", "alice", access)
    head, body, signature = good.split(".")
    tampered = ".".join([head, base64.urlsafe_b64encode(json.dumps(
        {**claims(good), "sub": "root", "access": [{"type": "repository", "name": "bob/app", "actions": ["pull"]}]}
    ).encode()).decode().rstrip("="), signature])
    for jwt in (forged, expired, foreign, tampered, "not.a.token", ""):
        status, headers, _ = secured.request("GET", "/v2/alice/app/tags/list", headers=bearer(jwt))
        assert status == 401 and "www-authenticate" in headers, jwt
    assert secured.request("GET", "/v2/alice/app/tags/list", headers=bearer(good))[0] == 404   # in, no such repo


def test_user_commands(minidocker, tmp_path):
    root = tmp_path / "registry"
    add_user(minidocker, root, "alice", "pw1", "devs")
    again = minidocker("registry", "user", "add", "alice", "--root", root, "--password-stdin", input="x\n")
    assert (again.returncode, again.stderr) == (1, "minidocker: user alice already exists\n")
    bad = minidocker("registry", "user", "add", "../Alice", "--root", root, "--password-stdin", input="x\n")
    assert bad.returncode == 1 and "invalid user name" in bad.stderr and "Traceback" not in bad.stderr
    empty = minidocker("registry", "user", "add", "carol", "--root", root, "--password-stdin", input="\n")
    assert empty.returncode == 1 and "empty" in empty.stderr
    listed = minidocker("registry", "user", "ls", "--root", root).stdout.splitlines()
    assert listed[1].split() == ["alice", "devs"] and len(listed) == 2
    stored = (root / "auth/users.json").read_text()
    assert "pw1" not in stored and "$2b$" in stored
    assert minidocker("registry", "user", "passwd", "alice", "--root", root, "--password-stdin",
                      input="pw2\n").returncode == 0
    from minidocker.registry.server.users import Users, authenticate
    users = Users(root).all()
    assert authenticate(users, "alice", "pw2") == ["devs"] and authenticate(users, "alice", "pw1") is None
    assert minidocker("registry", "user", "rm", "alice", "--root", root).returncode == 0
    gone = minidocker("registry", "user", "rm", "alice", "--root", root)
    assert (gone.returncode, gone.stderr) == (1, "minidocker: no such user: alice\n")


@pytest.fixture
def layout(tmp_path, busybox_rootfs):
    require_root()
    return busybox_layout(tmp_path, busybox_rootfs)


def test_skopeo_with_tokens(secured, layout):
    ref = f"docker://{secured.addr}"
    copy = ["skopeo", "copy", "-q", f"oci:{layout}:bb"]
    assert run(*copy, f"{ref}/alice/bb:1", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw").returncode == 0
    denied = run(*copy, f"{ref}/bob/bb:1", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw")
    assert refused(denied)
    anonymous = run(*copy, f"{ref}/alice/bb:2", "--dest-tls-verify=false")
    assert anonymous.returncode != 0
    assert run("skopeo", "inspect", "--tls-verify=false", f"{ref}/alice/bb:1").returncode != 0
    assert run("skopeo", "inspect", "--tls-verify=false", "--creds", "bob:bob-pw", f"{ref}/alice/bb:1").returncode != 0
    assert run("skopeo", "inspect", "--tls-verify=false", "--creds", "root:root-pw", f"{ref}/alice/bb:1").returncode == 0
    assert run(*copy, f"{ref}/public/bb:1", "--dest-tls-verify=false", "--dest-creds", "root:root-pw").returncode == 0
    assert run("skopeo", "inspect", "--tls-verify=false", f"{ref}/public/bb:1").returncode == 0   # anonymous pull


def test_podman_logs_in_pushes_and_pulls(secured, layout, podman, tmp_path):
    auth = ["--authfile", str(tmp_path / "auth.json"), "--tls-verify=false"]
    wrong = podman("login", *auth, "-u", "alice", "-p", "wrong", secured.addr)
    assert wrong.returncode != 0
    login = podman("login", *auth, "-u", "alice", "--password-stdin", secured.addr, input="alice-pw\n",
                   stdin=None)
    assert login.returncode == 0, login.stderr
    assert run("skopeo", "copy", "-q", f"oci:{layout}:bb", f"docker://{secured.addr}/alice/bb:1",
               "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw").returncode == 0
    pulled = podman("pull", *auth, f"{secured.addr}/alice/bb:1")
    assert pulled.returncode == 0, pulled.stderr
    assert podman("push", *auth, f"{secured.addr}/alice/bb:1", f"{secured.addr}/alice/copy:1").returncode == 0
    pushed_elsewhere = podman("push", *auth, f"{secured.addr}/alice/bb:1", f"{secured.addr}/bob/copy:1")
    assert refused(pushed_elsewhere)
    assert podman("pull", *auth, f"{secured.addr}/alice/copy:1").returncode == 0
    ran = podman("run", "--rm", "--network", "none", f"{secured.addr}/alice/copy:1", "echo", "ok")
    assert (ran.returncode, ran.stdout) == (0, "ok\n"), ran.stderr


def test_the_cncf_registry_accepts_minidockers_tokens(secured, layout, tmp_path):
    require(shutil.which("docker-registry"), "docker-registry is not installed (./course setup installs it)")
    port = free_port()
    config = tmp_path / "distribution.yml"
    config.write_text(f"""version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {tmp_path}/distribution}}
  delete: {{enabled: true}}
http: {{addr: "127.0.0.1:{port}"}}
auth:
  token:
    realm: http://{secured.addr}/token
    service: minidocker-registry
    issuer: minidocker
    rootcertbundle: {secured.root}/auth/token.crt
""")
    distribution = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, distribution)
        ref = f"docker://127.0.0.1:{port}"
        copy = ["skopeo", "copy", "-q", f"oci:{layout}:bb"]
        pushed = run(*copy, f"{ref}/alice/bb:1", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw")
        assert pushed.returncode == 0, pushed.stderr
        denied = run(*copy, f"{ref}/bob/bb:1", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw")
        assert refused(denied)
        assert run("skopeo", "inspect", "--tls-verify=false", "--creds", "alice:alice-pw", f"{ref}/alice/bb:1").returncode == 0
        from minidocker.registry.server.tokens import SigningKey, issue
        access = [{"type": "repository", "name": "alice/bb", "actions": ["pull"]}]
        forged = issue(SigningKey(tmp_path / "forger"), "minidocker", "minidocker-registry", "alice", access)
        real = issue(SigningKey(secured.root / "auth"), "minidocker", "minidocker-registry", "alice", access)
        import http.client
        for jwt, expected in ((forged, 401), (real, 200)):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/v2/alice/bb/tags/list", headers=bearer(jwt))
            assert conn.getresponse().status == expected
            conn.close()
    finally:
        distribution.terminate()
        distribution.wait()


def test_an_unknown_user_costs_a_whole_bcrypt_check():
    # bcrypt refuses a malformed hash at once (ValueError), which would tell a stranger by timing
    # which user names exist: the stand-in for a missing user must be a hash bcrypt really checks.
    import bcrypt
    from minidocker.registry.server.users import _DUMMY, authenticate
    assert bcrypt.checkpw(b"guess", _DUMMY.encode()) is False
    assert authenticate({}, "mallory", "guess") is None
