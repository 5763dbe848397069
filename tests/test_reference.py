"""Image references are parsed and normalised as Docker's distribution/reference does."""
import pytest

from minidocker.errors import MinidockerError
from minidocker.image import reference
from minidocker.image.reference import InvalidReference, parse

HEX = "b4f0e0bdeb578043c1ea6862f0d40cc4afe32a4a582f3be235a3b164422be228"


@pytest.mark.parametrize("text, full, familiar", [
    ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("ubuntu:18.04", "docker.io/library/ubuntu:18.04", "ubuntu:18.04"),
    ("library/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("docker.io/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("index.docker.io/library/redis:alpine", "docker.io/library/redis:alpine", "redis:alpine"),
    ("jwilder/nginx-proxy", "docker.io/jwilder/nginx-proxy:latest", "jwilder/nginx-proxy:latest"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/ns/app:1.0", "localhost:5000/ns/app:1.0", "localhost:5000/ns/app:1.0"),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
    ("[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000/x:y"),
    ("Example.com/app", "Example.com/app:latest", "Example.com/app:latest"),
    ("a.b/c__d/e-f---g.h_i:TAG_1.-x", "a.b/c__d/e-f---g.h_i:TAG_1.-x", "a.b/c__d/e-f---g.h_i:TAG_1.-x"),
    (f"node@sha256:{HEX}", f"docker.io/library/node@sha256:{HEX}", f"node@sha256:{HEX}"),
    (f"node:slim@sha256:{HEX}", f"docker.io/library/node:slim@sha256:{HEX}", f"node:slim@sha256:{HEX}"),
])
def test_normalised_like_docker(text, full, familiar):
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


@pytest.mark.parametrize("text, message", [
    ("", "at least one component"),
    ("Ubuntu", "repository name (library/Ubuntu) must be lowercase"),
    ("jwilder/Nginx", "must be lowercase"),
    ("ubuntu:", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("-ubuntu", "invalid reference format"),
    ("ubuntu-", "invalid reference format"),
    ("ubu..ntu", "invalid reference format"),
    ("ubuntu:a/b", "invalid reference format"),
    ("ubuntu:" + "t" * 129, "invalid reference format"),
    ("ubuntu@sha256:abc", "invalid reference format"),
    (f"ubuntu@sha256:{HEX}0", "invalid checksum digest length"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("a/" * 128 + "a", "must not be more than 255 characters"),
    ("has space", "invalid reference format"),
    ("host:port/x", "invalid reference format"),
    ("//x", "invalid reference format"),
])
def test_malformed_references_are_refused(text, message):
    with pytest.raises(InvalidReference) as info:
        parse(text)
    assert message in str(info.value)
    assert isinstance(info.value, MinidockerError) and info.value.exit_code == 125
    assert "\n" not in str(info.value)


def test_tag_targets_refuse_digests():
    with pytest.raises(InvalidReference, match="digest"):
        reference.parse_tag_target(f"busybox@sha256:{HEX}")
    assert str(reference.parse_tag_target("busybox")) == "docker.io/library/busybox:latest"


def test_familiar_name_and_id_prefixes():
    assert parse("docker.io/jwilder/nginx-proxy:1").familiar_name == "jwilder/nginx-proxy"
    assert parse("docker.io/library/a/b").familiar_name == "library/a/b"
    assert parse("ubuntu", default_tag=False).tag is None
    assert reference.is_id_prefix("8d5d") and reference.is_id_prefix("sha256:8d5d")
    assert not reference.is_id_prefix("redis") and not reference.is_id_prefix("8d5d:1")
