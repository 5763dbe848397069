"""Helpers for the registry server tests: run `minidocker registry serve` on a free loopback port,
speak HTTP to it, and build small OCI images offline."""
import hashlib, http.client, json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path

from support import ROOT, require


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process=None, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Server:
    """`python -m minidocker registry serve` in a child process, stopped by its pid."""

    def __init__(self, root, *flags, config=None):
        self.root, self.port = Path(root), free_port()
        self.addr = f"127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "minidocker", "registry", "serve", "--addr", self.addr,
                   "--root", str(self.root), *flags]
        if config:
            path = self.root.parent / f"registry-{self.port}.toml"
            path.write_text(config)
            command += ["--config", str(path)]
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        env["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        wait_for_port(self.port, self.process)

    def request(self, method, path, body=None, headers=None):
        """(status, headers as a dict with lower-case keys, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stderr.close()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(server, name, data: bytes, headers=None):
    """A monolithic upload; returns the digest."""
    digest = digest_of(data)
    status, _, body = server.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data, headers)
    assert status == 201, body
    return digest


def push_image(server, name, tag, layers=(b"layer",), config=b"{}", headers=None):
    """Push blobs and an OCI manifest through the API; return (manifest bytes, its digest)."""
    config_digest = push_blob(server, name, config, headers)
    descriptors = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": push_blob(server, name, layer, headers),
                    "size": len(layer)} for layer in layers]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config_digest, "size": len(config)},
                           "layers": descriptors}).encode()
    status, answer, body = server.request("PUT", f"/v2/{name}/manifests/{tag}", manifest,
                                          {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                                           **(headers or {})})
    assert status == 201, body
    return manifest, answer["docker-content-digest"]


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)


def busybox_layout(tmp_path, busybox_rootfs, tag="bb"):
    """A busybox OCI image layout made offline by umoci."""
    require(shutil.which("umoci") and shutil.which("skopeo"), "umoci and skopeo are needed (./course setup)")
    layout, bundle = tmp_path / "layout", tmp_path / "bundle"
    for step in (["init", "--layout", layout], ["new", "--image", f"{layout}:{tag}"],
                 ["unpack", "--image", f"{layout}:{tag}", bundle]):
        assert run("umoci", *step).returncode == 0
    shutil.rmtree(bundle / "rootfs")
    shutil.copytree(busybox_rootfs, bundle / "rootfs", symlinks=True)
    assert run("umoci", "repack", "--image", f"{layout}:{tag}", bundle).returncode == 0
    assert run("umoci", "config", "--image", f"{layout}:{tag}", "--config.cmd", "sh").returncode == 0
    shutil.rmtree(bundle)
    return layout
