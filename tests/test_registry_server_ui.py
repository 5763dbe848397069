"""The web UI (read-only, login for private repositories) and class mode, over HTTP and in headless
Chromium. Screenshots go to the test's tmp directory, never into the repository."""
import base64, json, re, shutil, subprocess

import pytest

from registry_server_support import Server, push_image
from support import require
from test_registry_server_auth import add_user, token

PUBLIC_RULE = '[[acl]]\nrepository = "public/*"\nsubjects = ["anonymous"]\nactions = ["pull"]\n'


@pytest.fixture
def registry(tmp_path, minidocker):
    root = tmp_path / "registry"
    add_user(minidocker, root, "alice", "alice-pw")
    add_user(minidocker, root, "root", "root-pw", "admin")
    server = Server(root, "--auth", "token", config=PUBLIC_RULE)
    try:
        for name, who in (("alice/app", ("alice", "alice-pw")), ("public/tool", ("root", "root-pw"))):
            jwt = token(server, f"repository:{name}:pull,push", *who)
            push_image(server, name, "v1", layers=[b"a layer of " + name.encode()],
                       headers={"Authorization": f"Bearer {jwt}"})
        yield server
    finally:
        server.stop()


def page(server, path, cookie=None):
    status, headers, body = server.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    return status, body.decode()


def log_in(server, user, password):
    status, headers, _ = server.request("POST", "/ui/login", f"username={user}&password={password}".encode(),
                                        {"Content-Type": "application/x-www-form-urlencoded"})
    return status, headers.get("set-cookie", "").split(";")[0]


def test_anonymous_viewers_see_public_repositories_only(registry):
    status, html = page(registry, "/ui/")
    assert status == 200 and "public/tool" in html and "alice/app" not in html
    status, html = page(registry, "/ui/r/alice/app")
    assert status == 404 and "log in to see private" in html and "sha256:" not in html
    status, html = page(registry, "/ui/r/public/tool/m/v1")
    assert status == 200 and f"docker pull {registry.addr}/public/tool:v1" in html


def test_login_shows_private_repositories_with_tags_sizes_and_layers(registry):
    assert log_in(registry, "alice", "wrong")[0] == 401
    status, cookie = log_in(registry, "alice", "alice-pw")
    assert status == 303 and cookie.startswith("minidocker_registry_session=")
    status, html = page(registry, "/ui/", cookie)
    assert "alice/app" in html and "public/tool" in html and "alice · " in html
    status, html = page(registry, "/ui/r/alice/app", cookie)
    assert status == 200 and re.search(r">v1<.*<code>sha256:[0-9a-f]{12}</code>", html, re.S) and " B</td>" in html
    manifest = json.loads(registry.request("GET", "/v2/alice/app/manifests/v1",
                                           headers={"Authorization": "Bearer " + token(
                                               registry, "repository:alice/app:pull", "alice", "alice-pw")})[2])
    status, html = page(registry, "/ui/r/alice/app/m/v1", cookie)
    assert all(layer["digest"] in html for layer in manifest["layers"])
    assert f"docker pull {registry.addr}/alice/app:v1" in html
    # the UI cookie is not a registry token, and a registry token is not a UI cookie
    session = cookie.split("=", 1)[1]
    assert registry.request("GET", "/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {session}"})[0] == 401
    jwt = token(registry, "repository:alice/app:pull", "alice", "alice-pw")
    assert "alice/app" not in page(registry, "/ui/", f"minidocker_registry_session={jwt}")[1]


def chromium(*args, profile):
    require(shutil.which("chromium"), "chromium is not installed (./course setup installs it)")
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_ui_in_headless_chromium(registry, tmp_path):
    profile = tmp_path / "profile"
    anonymous = chromium("--dump-dom", f"http://{registry.addr}/ui/", profile=profile)
    assert "public/tool" in anonymous and "alice/app" not in anonymous
    login = tmp_path / "login.html"      # a form that posts itself, as a person would submit it
    login.write_text(f'<form method="post" action="http://{registry.addr}/ui/login"><input name="username" '
                     'value="alice"><input name="password" value="alice-pw"></form><script>document.forms[0].submit()'
                     '</script>')
    chromium("--virtual-time-budget=5000", "--dump-dom", login.as_uri(), profile=profile)
    private = chromium("--dump-dom", f"http://{registry.addr}/ui/r/alice/app/m/v1", profile=profile)
    assert "alice/app:v1" in private and f"docker pull {registry.addr}/alice/app:v1" in private
    shot = tmp_path / "manifest.png"
    chromium(f"--screenshot={shot}", "--window-size=1100,700", f"http://{registry.addr}/ui/r/alice/app/m/v1",
             profile=profile)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_mode(tmp_path, minidocker):
    root = tmp_path / "registry"
    made = minidocker("registry", "class", "create", "--students", "3", "--root", root)
    assert made.returncode == 0, made.stderr
    rows = [line.split()[:2] for line in made.stdout.splitlines()[1:]]
    assert [user for user, _ in rows] == ["instructor", "student01", "student02", "student03"]
    passwords = dict(rows)
    for bad in ("0", "1000"):
        refused = minidocker("registry", "class", "create", "--students", bad, "--root", root)
        assert (refused.returncode, refused.stderr) == (1, "minidocker: --students must be between 1 and 999\n")
    again = minidocker("registry", "class", "create", "--students", "2", "--root", root)
    assert again.returncode == 1 and "student01 already exists" in again.stderr
    server = Server(root, "--auth", "token")
    try:
        own = token(server, "repository:student01/hello:pull,push", "student01", passwords["student01"])
        push_image(server, "student01/hello", "v1", headers={"Authorization": f"Bearer {own}"})
        other = token(server, "repository:student02/hello:pull,push", "student01", passwords["student01"])
        assert server.request("POST", "/v2/student02/hello/blobs/uploads/",
                              headers={"Authorization": f"Bearer {other}"})[0] == 403
        student_cookie = log_in(server, "student01", passwords["student01"])[1]
        assert server.request("GET", "/ui/class", headers={"Cookie": student_cookie})[0] == 303
        cookie = log_in(server, "instructor", passwords["instructor"])[1]
        status, html = page(server, "/ui/class", cookie)
        assert status == 200 and re.search(r"<td>student01</td>\s*<td><a [^>]*>student01/hello</a></td><td>v1</td>", html)
        teacher = token(server, "repository:student01/hello:pull,push", "instructor", passwords["instructor"])
        granted = json.loads(base64.urlsafe_b64decode(teacher.split(".")[1] + "==="))["access"][0]["actions"]
        assert granted == ["pull"]                       # the instructor sees, but does not overwrite
    finally:
        server.stop()
