"""Real registries for the registry client's tests: the CNCF registry (`docker-registry`, distribution
2.8) on 127.0.0.1 with a config of our own (open, token auth, htpasswd, or a pull-through cache),
seeded by skopeo; a token server standing in for auth.docker.io (pyjwt + cryptography: the
registry itself checks its tokens); and a small proxy that misbehaves on request (tampers,
truncates, throttles, rate-limits) in front of a real registry."""
import base64, datetime, http.client, http.server, json, os, shutil, socket, subprocess, threading, time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from support import require


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Registry:
    """`docker-registry serve` on 127.0.0.1:PORT, storage in a temporary directory."""

    def __init__(self, work: Path, auth=None, proxy=None, port=None, tls=None):
        require(shutil.which("docker-registry"), "docker-registry is not installed (./course setup installs it)")
        self.work, self.port = Path(work), port or free_port()
        self.host, self.storage = f"127.0.0.1:{self.port}", self.work / "storage"
        self.url = f"http://{self.host}"
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true", "storage:",
                 "  filesystem:", f"    rootdirectory: {self.storage}", "  delete:", "    enabled: true",
                 "http:", f"  addr: {self.host}", "  secret: minidocker-tests"]
        if tls:
            lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
            self.url = f"https://{self.host}"
        if auth:
            lines += ["auth:"] + [f"  {line}" for line in auth]
        if proxy:
            lines += ["proxy:", f"  remoteurl: {proxy}"]
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "config.yml").write_text("\n".join(lines) + "\n")
        self.process = None
        self.start()

    def start(self):
        self.log = open(self.work / "registry.log", "ab")
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.work / "config.yml")],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()

    def blob_file(self, digest) -> Path:
        hexpart = digest.split(":", 1)[1]
        return self.storage / f"docker/registry/v2/blobs/sha256/{hexpart[:2]}/{hexpart}/data"


def skopeo(*args):
    return subprocess.run(["skopeo", *map(str, args)], check=True, capture_output=True, text=True)


def seed(layout_ref: str, registry: Registry, name: str, creds=None, fmt=None):
    """skopeo copy an OCI layout image (`oci:DIR:TAG`) to the registry as `name`."""
    extra = ["--dest-creds", creds] if creds else []
    extra += ["--format", fmt] if fmt else []
    skopeo("copy", "-q", "--dest-tls-verify=false", *extra, layout_ref, f"docker://{registry.host}/{name}")


def umoci_layout(path: Path, rootfs: Path, tag="bb", extra_files=None, cmd="sh"):
    """A busybox OCI layout made by umoci, optionally with a second layer of extra files."""
    def run(*args):
        subprocess.run([str(a) for a in args], check=True, capture_output=True)
    bundle = path.parent / f"{path.name}-bundle"
    if not path.exists():
        run("umoci", "init", "--layout", path)
    run("umoci", "new", "--image", f"{path}:{tag}")
    run("umoci", "unpack", "--image", f"{path}:{tag}", bundle)
    shutil.rmtree(bundle / "rootfs")
    shutil.copytree(rootfs, bundle / "rootfs", symlinks=True)
    run("umoci", "repack", "--refresh-bundle", "--image", f"{path}:{tag}", bundle)
    if extra_files:
        for name, text in extra_files.items():
            target = bundle / "rootfs" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        run("umoci", "repack", "--image", f"{path}:{tag}", bundle)
    run("umoci", "config", "--image", f"{path}:{tag}", "--config.cmd", cmd)
    shutil.rmtree(bundle)
    return f"oci:{path}:{tag}"


class Proxy:
    """A plain-HTTP proxy on 127.0.0.1 in front of a real registry that misbehaves on request:
    `faults` is a dict the test changes at will —
      rate_limit: N   answer the next N manifest requests with 429 and Retry-After: 1
      wrong_digest    send a false Docker-Content-Digest with manifests (got or put)
      schema1         serve a schema 1 manifest instead of the real one
      truncate: N     cut the next N blob bodies in half (then drop the connection)
      throttle: S     sleep S seconds between 64 KiB pieces of blob bodies
      hold_uploads    take blob uploads in, never answer them (until the fault is cleared)
    and `requests` records (method, path, Range header)."""

    def __init__(self, upstream: Registry):
        self.upstream, self.port, self.faults, self.requests = upstream, free_port(), {}, []
        self.held = threading.Event()
        self.host = f"127.0.0.1:{self.port}"
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy.forward(self)
            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, handler):
        self.requests.append((handler.command, handler.path, handler.headers.get("Range")))
        is_manifest, is_blob = "/manifests/" in handler.path, "/blobs/sha256:" in handler.path
        if is_manifest and handler.command == "GET" and self.faults.get("rate_limit"):
            self.faults["rate_limit"] -= 1
            body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}'
            return self._reply(handler, 429, {"Retry-After": "1", "Content-Type": "application/json"}, body)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if handler.command == "PUT" and "/blobs/uploads/" in handler.path and self.faults.get("hold_uploads"):
            self.held.set()                           # the upload arrived; it never reaches the registry
            while self.faults.get("hold_uploads"):
                time.sleep(0.05)
            return self._reply(handler, 500, {}, b"")
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "connection"}   # Host kept: Locations point back here
        conn = http.client.HTTPConnection(self.upstream.host, timeout=60)
        conn.request(handler.command, handler.path, body=body, headers=headers)
        response = conn.getresponse()
        out = {k: v for k, v in response.getheaders() if k.lower() not in ("connection", "transfer-encoding", "content-length")}
        if handler.command == "HEAD":
            out["_length"] = response.getheader("Content-Length", "0")
        data = response.read()
        conn.close()
        if is_manifest and handler.command == "PUT" and self.faults.get("wrong_digest"):
            out["Docker-Content-Digest"] = "sha256:" + "0" * 64
        if is_manifest and handler.command == "GET" and response.status == 200:
            if self.faults.get("wrong_digest"):
                out["Docker-Content-Digest"] = "sha256:" + "0" * 64
            if self.faults.get("schema1"):
                data = json.dumps({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": [], "history": []}).encode()
                out["Content-Type"] = "application/vnd.docker.distribution.manifest.v1+prettyjws"
                out.pop("Docker-Content-Digest", None)
        if is_blob and handler.command == "GET" and response.status in (200, 206):
            if self.faults.get("truncate") and len(data) > 4096:      # layers, not configs
                self.faults["truncate"] -= 1
                return self._reply(handler, response.status, out, data, cut=len(data) // 2)
            if self.faults.get("throttle"):
                return self._reply(handler, response.status, out, data, pause=self.faults["throttle"])
        self._reply(handler, response.status, out, data)

    def _reply(self, handler, status, headers, data, cut=None, pause=0):
        handler.send_response(status)
        for k, v in headers.items():
            if k != "_length":
                handler.send_header(k, v)
        handler.send_header("Content-Length", headers.get("_length") or str(len(data)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        try:
            if cut is not None:
                handler.wfile.write(data[:cut])
                handler.wfile.flush()
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            for i in range(0, len(data), 65536):
                handler.wfile.write(data[i:i + 65536])
                if pause:
                    handler.wfile.flush()
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def add_platform_index(layout: Path, tag: str, new_tag: str) -> str:
    """Give an OCI layout a tag naming an index: the image `tag` as linux/<this machine> and a
    copy of it whose config says linux/arm64/v8 (or amd64 on an arm64 machine)."""
    from minidocker.image import oci
    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"] if m.get("annotations", {}).get(oci.REF_ANNOTATION) == tag)

    def blob(digest):
        return (layout / "blobs/sha256" / digest.split(":")[1]).read_bytes()

    def put(data):
        import hashlib
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (layout / "blobs/sha256" / digest.split(":")[1]).write_bytes(data)
        return {"digest": digest, "size": len(data)}
    manifest = json.loads(blob(desc["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    other = "amd64" if oci.architecture() == "arm64" else "arm64"
    config.update(architecture=other, **({"variant": "v8"} if other == "arm64" else {}))
    other_config = put(json.dumps(config).encode())
    other_manifest = put(json.dumps({**manifest, "config": {**manifest["config"], **other_config}}).encode())
    entries = [{"mediaType": oci.MANIFEST, "digest": desc["digest"], "size": desc["size"],
                "platform": {"os": "linux", "architecture": oci.architecture()}},
               {"mediaType": oci.MANIFEST, **other_manifest,
                "platform": {"os": "linux", "architecture": other, **({"variant": "v8"} if other == "arm64" else {})}}]
    listed = put(json.dumps({"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": entries}).encode())
    index["manifests"].append({"mediaType": oci.INDEX, **listed, "annotations": {oci.REF_ANNOTATION: new_tag}})
    (layout / "index.json").write_text(json.dumps(index))
    return f"oci:{layout}:{new_tag}"


class TokenServer:
    """Stands in for auth.docker.io: `GET /token?service=…&scope=…`, with or without basic auth, and
    OAuth2's `POST /token` (grant_type=password; a 404 with oauth=False, as GET-only servers answer),
    answers a JWT signed with a key whose certificate the registry trusts (`rootcertbundle`); the
    certificate travels in the token's `x5c` header, which distribution 2.8 verifies. Anonymous
    users get `pull` on every repository but `private/*`; `users` get what they ask for."""

    def __init__(self, work: Path, users=None, issuer="minidocker-tests", service="minidocker-registry", oauth=True):
        import jwt
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self.users, self.issuer, self.service, self.requests = users or {"alice": "secret"}, issuer, service, []
        self.oauth, self.posts = oauth, []        # oauth=False: POST answers 404, as a GET-only server
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minidocker test token issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
        Path(work).mkdir(parents=True, exist_ok=True)
        self.bundle = Path(work) / "token-issuer.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.port = free_port()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                user = server.user_of(self.headers.get("Authorization"))
                if user is False:
                    return self.answer(401, {"details": "incorrect username or password"})
                self.issue(user, query.get("scope", []), query.get("service", [""])[0])

            def do_POST(self):          # OAuth2 (distribution's docs/spec/auth/oauth.md)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if not server.oauth:
                    return self.answer(404, {"details": "404 page not found"})
                form = {k: v[0] for k, v in parse_qs(body).items()}
                server.posts.append({k: v for k, v in form.items() if k != "password"})
                user = form.get("username")
                if form.get("grant_type") != "password" or server.users.get(user) != form.get("password"):
                    return self.answer(401, {"error": "invalid_grant"})
                self.issue(user, form.get("scope", "").split(), form.get("service", ""),
                           refresh=form.get("access_type") == "offline")

            def issue(self, user, scopes, service, refresh=False):
                server.requests.append((user, scopes))
                access = [server.grant(user, scope) for scope in scopes]
                claims = {"iss": server.issuer, "sub": user or "", "aud": service,
                          "exp": int(time.time()) + 300, "nbf": int(time.time()) - 10, "iat": int(time.time()),
                          "jti": os.urandom(8).hex(), "access": [a for a in access if a]}
                token = jwt.encode(claims, key, algorithm="ES256", headers={"x5c": x5c})
                self.answer(200, {"token": token, "access_token": token, "expires_in": 300,
                                  **({"refresh_token": os.urandom(16).hex()} if refresh else {})})

            def answer(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def user_of(self, header):
        """None for anonymous, the user for good credentials, False for bad ones."""
        if not header:
            return None
        user, _, password = base64.b64decode(header.split(" ", 1)[1]).decode().partition(":")
        return user if self.users.get(user) == password else False

    def grant(self, user, scope):
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        wanted = actions.split(",")
        allowed = wanted if user else [a for a in wanted if a == "pull" and not name.startswith("private/")]
        return {"type": kind, "name": name, "actions": allowed} if allowed else None

    def auth_config(self):
        return ["token:", f"  realm: http://127.0.0.1:{self.port}/token", f"  service: {self.service}",
                f"  issuer: {self.issuer}", f"  rootcertbundle: {self.bundle}"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def tls_files(work: Path, host="127.0.0.1"):
    """A CA, and a server certificate it signed for `host`: (ca.pem, cert.pem, key.pem)."""
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject, key, issuer, issuer_key, ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False)
        return builder.sign(issuer_key, hashes.SHA256())
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minidocker test CA")])
    ca = cert(ca_name, ca_key, ca_name, ca_key, True)
    server = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]), key, ca_name, ca_key, False)
    pem = serialization.Encoding.PEM
    (work / "ca.pem").write_bytes(ca.public_bytes(pem))
    (work / "cert.pem").write_bytes(server.public_bytes(pem))
    (work / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return work / "ca.pem", work / "cert.pem", work / "key.pem"


def htpasswd_config(work: Path, users) -> list:
    """distribution's `auth: htpasswd:` with a bcrypt htpasswd file of `users`."""
    import bcrypt
    path = Path(work) / "htpasswd"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()}\n" for u, p in users.items()))
    return ["htpasswd:", "  realm: minidocker-tests", f"  path: {path}"]


def digest_of(registry, name):
    return json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/{name}").stdout)["Digest"]


def layer_ids(registry, name):
    return [d[7:19] for d in json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/{name}").stdout)["Layers"]]
