"""TLS is verified: a registry whose certificate no known CA signed is refused with Go's words,
until its CA is put in certs.d/<host:port>/ beside daemon.json, as Docker's /etc/docker/certs.d;
and credentials can live in a docker-credential helper instead of config.json."""
import json, os, shutil

import pytest

from registry_support import Registry, seed, tls_files

pytest_plugins = ["registry_fixtures"]           # registry, proxy, layouts, private_config
pytestmark = pytest.mark.usefixtures("private_config")


def test_an_unknown_ca_is_refused_until_certs_d_has_it(minidocker, layouts, tmp_path):
    ca, cert, key = tls_files(tmp_path / "tls")
    reg = Registry(tmp_path / "registry", tls=(cert, key))
    try:
        seed(layouts["bb"], reg, "library/busybox:latest")
        refused = minidocker("pull", f"{reg.host}/library/busybox")
        assert refused.returncode == 1
        assert refused.stderr == (f'minidocker: Get "https://{reg.host}/v2/": tls: failed to verify certificate: '
                                  "x509: certificate signed by unknown authority\n"), refused.stderr
        certs = tmp_path / "etc/certs.d" / reg.host
        certs.mkdir(parents=True)
        shutil.copy(ca, certs / "ca.crt")
        pulled = minidocker("pull", f"{reg.host}/library/busybox")
        assert pulled.returncode == 0, pulled.stderr
    finally:
        reg.stop()


HELPER = """#!/bin/sh
# docker-credential-test: keeps one JSON file per server in $STORE (the credential helper protocol)
STORE=@STORE@
case $1 in
  store) read -r doc; printf '%s' "$doc" > "$STORE/$(echo "$doc" | sed 's/.*"ServerURL": *"\\([^"]*\\)".*/\\1/' | tr / _)";;
  get) read -r url; f="$STORE/$(echo "$url" | tr / _)"; [ -f "$f" ] && cat "$f" || { echo "credentials not found in native keychain"; exit 1; };;
  erase) read -r url; rm -f "$STORE/$(echo "$url" | tr / _)";;
esac
"""


def test_credentials_through_a_helper(tmp_path, monkeypatch):
    bin_dir, store = tmp_path / "bin", tmp_path / "keychain"
    bin_dir.mkdir()
    store.mkdir()
    (bin_dir / "docker-credential-test").write_text(HELPER.replace("@STORE@", str(store)))
    (bin_dir / "docker-credential-test").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = tmp_path / "dotminidocker/config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credsStore": "test"}))
    from minidocker.registry import credentials
    assert credentials.get("127.0.0.1:5000") is None
    credentials.store("127.0.0.1:5000", "carol", "pw")
    assert json.loads(config.read_text())["auths"] == {"127.0.0.1:5000": {}}      # no secret in the file
    assert credentials.get("127.0.0.1:5000") == ("carol", "pw")
    assert credentials.erase("127.0.0.1:5000") and credentials.get("127.0.0.1:5000") is None


def test_progress_on_a_terminal_rewrites_each_layers_line():
    import io
    from minidocker.registry.progress import Progress, bar
    assert bar(1_234_567, 4_500_000) == "[=============>                                     ]  1.235MB/4.5MB"
    assert bar(5, 10, width=80) == "      5B/10B"
    out = io.StringIO()
    progress = Progress(out, terminal=True)
    progress.update("aaaaaaaaaaaa", "Pulling fs layer")
    progress.update("bbbbbbbbbbbb", "Pulling fs layer")
    progress.update("aaaaaaaaaaaa", "Pull complete")
    assert out.getvalue() == ("\n\x1b[1A\x1b[1K\x1b[K\raaaaaaaaaaaa: Pulling fs layer\r\x1b[1B"
                              "\n\x1b[1A\x1b[1K\x1b[K\rbbbbbbbbbbbb: Pulling fs layer\r\x1b[1B"
                              "\x1b[2A\x1b[1K\x1b[K\raaaaaaaaaaaa: Pull complete\r\x1b[2B")


def test_plain_http_only_for_loopback_and_insecure_registries(tmp_path):
    from minidocker.registry import config
    (tmp_path / "etc").mkdir(exist_ok=True)
    (tmp_path / "etc/daemon.json").write_text(json.dumps({
        "insecure-registries": ["registry.internal:5000", "10.0.0.0/8"], "registry-mirrors": ["https://mirror.example/"]}))
    urls = {domain: [e.url for e in config.endpoints(domain)] for domain in
            ("127.0.0.1:5000", "localhost", "registry.internal:5000", "10.1.2.3", "quay.io", "docker.io")}
    assert urls == {"127.0.0.1:5000": ["https://127.0.0.1:5000", "http://127.0.0.1:5000"],
                    "localhost": ["https://localhost", "http://localhost"],
                    "registry.internal:5000": ["https://registry.internal:5000", "http://registry.internal:5000"],
                    "10.1.2.3": ["https://10.1.2.3", "http://10.1.2.3"],
                    "quay.io": ["https://quay.io"],
                    "docker.io": ["https://mirror.example", "http://127.0.0.1:9"]}     # MINIDOCKER_HUB, set by the fixture
