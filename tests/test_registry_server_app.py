"""`registry serve`'s configuration: a TOML file overridden by flags, TLS, and bad input as one line."""
import datetime, http.client, ipaddress, socket, ssl, subprocess, sys

from registry_server_support import Server
from support import ROOT


def test_config_file_and_flags(tmp_path):
    from minidocker.registry.server.app import load_config
    path = tmp_path / "registry.toml"
    path.write_text('addr = "127.0.0.1:6000"\nauth = "token"\nanonymous_pull = true\n')
    config = load_config(path, addr="127.0.0.1:7000", root=str(tmp_path), auth=None)
    assert (config.addr, config.auth, config.anonymous_pull, config.root) == ("127.0.0.1:7000", "token", True,
                                                                              str(tmp_path))


def test_bad_configuration_is_one_line(minidocker, tmp_path):
    bad = tmp_path / "bad.toml"
    for text, message in (('addr = "x', "registry config"), ('colour = "blue"', "unknown settings colour"),
                          ('auth = "htpasswd"', "unknown auth mode 'htpasswd'"),
                          ('[[acl]]\nrepository = "x/*"\nsubjects = ["*"]\nactions = ["fly"]', "an [[acl]] rule needs"),
                          ('[[acl]]\nrepository = "x/*"', "an [[acl]] rule needs")):
        bad.write_text(text)
        result = minidocker("registry", "serve", "--config", bad, "--root", tmp_path / "r")
        assert result.returncode == 1 and message in result.stderr and len(result.stderr.splitlines()) == 1, \
            result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        in_use = f"127.0.0.1:{taken.getsockname()[1]}"
        result = minidocker("registry", "serve", "--addr", in_use, "--root", tmp_path / "r")
    assert (result.returncode, result.stderr) == (1, f"minidocker: registry: cannot serve {in_use} from "
                                                       f"{tmp_path / 'r'}: Address already in use\n")
    (tmp_path / "file").write_text("")
    result = minidocker("registry", "serve", "--root", tmp_path / "file/registry")
    assert result.returncode == 1 and result.stderr.endswith(": Not a directory\n"), result.stderr
    for flags, message in ((["--addr", "nowhere"], "invalid address"), (["--tls-cert", bad], "go together")):
        result = minidocker("registry", "serve", *flags, "--root", tmp_path / "r")
        assert result.returncode == 1 and message in result.stderr, result.stderr


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem"


def test_tls(tmp_path):
    cert, key = self_signed(tmp_path)
    server = Server(tmp_path / "registry", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        conn.request("GET", "/v2/")
        answer = conn.getresponse()
        assert (answer.status, answer.getheader("Docker-Distribution-API-Version")) == (200, "registry/2.0")
        conn.close()
    finally:
        server.stop()


def test_the_verb_imports_its_libraries_lazily():
    """Other verbs start no slower: neither the registry verb's module nor `--help` imports them."""
    code = ("import sys; from minidocker.cli.main import build_parser; build_parser(['--help']); "
            "import minidocker.cli.registry; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'bcrypt', 'jwt', 'cryptography', 'jinja2') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr
