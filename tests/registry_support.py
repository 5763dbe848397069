"""Real registries for the registry client's tests: the CNCF registry (`docker-registry`, distribution
2.8) on 127.0.0.1 with a config of our own (open, token auth, htpasswd, or a pull-through cache),
seeded by skopeo; a token server standing in for auth.docker.io (pyjwt + cryptography: the
registry itself checks its tokens); and a small proxy that misbehaves on request (tampers,
truncates, throttles, rate-limits) in front of a real registry."""
import base64, datetime, http.client, http.server, json, os, shutil, socket, subprocess, tempfile, threading, time
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

    def __init__(self, work: Path, auth=None, proxy=None, port=None):
        require(shutil.which("docker-registry"), "docker-registry is not installed (./course setup installs it)")
        self.work, self.port = Path(work), port or free_port()
        self.host, self.storage = f"127.0.0.1:{self.port}", self.work / "storage"
        self.url = f"http://{self.host}"
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true", "storage:",
                 "  filesystem:", f"    rootdirectory: {self.storage}", "  delete:", "    enabled: true",
                 "http:", f"  addr: {self.host}", "  secret: minidocker-tests"]
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
