"""The distribution API of `minidocker registry serve`, route by route, with the spec's errors."""
import json
import threading

import pytest

from registry_server_support import Server, digest_of, push_blob, push_image

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "registry")
    yield s
    s.stop()


def error_code(body):
    return json.loads(body)["errors"][0]["code"]


def blob_files(root):
    return sorted(p.name for p in (root / "blobs/sha256").glob("*/*"))


def test_base_and_version_header(server):
    status, headers, body = server.request("GET", "/v2/")
    assert (status, body) == (200, b"{}") and headers["docker-distribution-api-version"] == "registry/2.0"


def test_blob_upload_chunked_status_and_get_with_range(server):
    status, headers, _ = server.request("POST", "/v2/a/b/blobs/uploads/")
    assert status == 202 and headers["range"] == "0-0"
    location, uuid = headers["location"], headers["docker-upload-uuid"]
    status, headers, _ = server.request("PATCH", location, b"hello ", {"Content-Range": "0-5"})
    assert (status, headers["range"]) == (202, "0-5")
    status, headers, _ = server.request("PATCH", location, b"again", {"Content-Range": "3-7"})   # out of order
    assert status == 416
    status, headers, _ = server.request("GET", location)
    assert (status, headers["range"], headers["docker-upload-uuid"]) == (204, "0-5", uuid)
    status, headers, _ = server.request("PATCH", location, b"world", {"Content-Range": "6-10"})
    assert status == 202
    digest = digest_of(b"hello world")
    status, headers, _ = server.request("PUT", f"{location}?digest={digest}")
    assert status == 201 and headers["docker-content-digest"] == digest
    status, headers, body = server.request("GET", f"/v2/a/b/blobs/{digest}")
    assert (status, body, headers["docker-content-digest"]) == (200, b"hello world", digest)
    status, headers, body = server.request("HEAD", f"/v2/a/b/blobs/{digest}")
    assert (status, headers["content-length"], body) == (200, "11", b"")
    status, headers, body = server.request("GET", f"/v2/a/b/blobs/{digest}", headers={"Range": "bytes=6-"})
    assert (status, body, headers["content-range"]) == (206, b"world", "bytes 6-10/11")
    for bad in ("bytes=20-", "bytes=5-2", "bytes=0-1,1-2", "lines=1-2", "bytes=-"):
        status, _, body = server.request("GET", f"/v2/a/b/blobs/{digest}", headers={"Range": bad})
        assert status == 416 and error_code(body) == "RANGE_INVALID", bad


def test_put_with_wrong_digest_stores_nothing(server):
    _, headers, _ = server.request("POST", "/v2/a/blobs/uploads/")
    wrong = digest_of(b"something else")
    status, _, body = server.request("PUT", f"{headers['location']}?digest={wrong}", b"data")
    assert (status, error_code(body)) == (400, "DIGEST_INVALID")
    assert blob_files(server.root) == [] and list(server.root.glob("repositories/*/_uploads/*")) == []
    status, _, body = server.request("POST", f"/v2/a/blobs/uploads/?digest={wrong}", b"data")
    assert (status, error_code(body)) == (400, "DIGEST_INVALID") and blob_files(server.root) == []


def test_cancel_and_unknown_upload(server):
    _, headers, _ = server.request("POST", "/v2/a/blobs/uploads/")
    assert server.request("DELETE", headers["location"])[0] == 204
    status, _, body = server.request("GET", headers["location"])
    assert (status, error_code(body)) == (404, "BLOB_UPLOAD_UNKNOWN")
    status, _, body = server.request("PATCH", "/v2/a/blobs/uploads/..%2F..%2Fblobs", b"x")
    assert status == 404
    _, headers, _ = server.request("POST", "/v2/a/blobs/uploads/")              # an upload works only where
    status, _, body = server.request("PATCH", f"/v2/b/blobs/uploads/{headers['docker-upload-uuid']}", b"x")
    assert (status, error_code(body)) == (404, "BLOB_UPLOAD_UNKNOWN")           # it was started


@pytest.mark.parametrize("name", ["../etc", "a/../../b", "UPPER", "a//b", "_catalog/x", "a" * 256, "-a"])
def test_bad_repository_names_are_refused(server, name):
    status, _, body = server.request("POST", f"/v2/{name}/blobs/uploads/")
    assert status in (400, 404), body
    if status == 400:
        assert error_code(body) == "NAME_INVALID"
    assert list((server.root / "repositories").iterdir()) == []


def test_invalid_digests_are_refused(server):
    for digest in ("sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, "sha256:" + "a" * 64 + "%2F.."):
        status, _, body = server.request("GET", f"/v2/a/blobs/{digest}")
        assert status in (400, 404), digest
        if status == 400:
            assert error_code(body) == "DIGEST_INVALID"
    status, _, body = server.request("GET", "/v2/a/blobs/sha256:" + "a" * 64)
    assert (status, error_code(body)) == (404, "BLOB_UNKNOWN")


def test_manifest_by_tag_and_digest_byte_for_byte(server):
    manifest, digest = push_image(server, "lib/app", "v1")
    assert digest == digest_of(manifest)
    for reference in ("v1", digest):
        status, headers, body = server.request("GET", f"/v2/lib/app/manifests/{reference}")
        assert (status, body, headers["content-type"], headers["docker-content-digest"]) == \
            (200, manifest, OCI_MANIFEST, digest)
    status, headers, body = server.request("HEAD", "/v2/lib/app/manifests/v1")
    assert (status, body, headers["docker-content-digest"]) == (200, b"", digest)
    status, _, body = server.request("GET", "/v2/lib/app/manifests/nope")
    assert (status, error_code(body)) == (404, "MANIFEST_UNKNOWN")


def test_manifest_errors_store_nothing(server):
    manifest, digest = push_image(server, "a", "v1")
    before = blob_files(server.root)
    cases = [
        ("v2", b"not json", OCI_MANIFEST, "MANIFEST_INVALID"),
        ("v2", manifest.replace(b'"schemaVersion": 2', b'"schemaVersion": 1'), OCI_MANIFEST, "MANIFEST_INVALID"),
        ("v2", manifest, "application/vnd.docker.distribution.manifest.v2+json", "MANIFEST_INVALID"),
        ("sha256:" + "0" * 64, manifest, OCI_MANIFEST, "DIGEST_INVALID"),
        ("bad tag!", manifest, OCI_MANIFEST, "TAG_INVALID"),
        ("v2", manifest.replace(digest_of(b"layer").encode(), digest_of(b"other").encode()), OCI_MANIFEST,
         "MANIFEST_BLOB_UNKNOWN"),
        ("v2", b" " * (4 << 20) + manifest, OCI_MANIFEST, "SIZE_INVALID"),
    ]
    for reference, body, media_type, code in cases:
        status, _, answer = server.request("PUT", f"/v2/a/manifests/{reference.replace(' ', '%20')}", body,
                                           {"Content-Type": media_type})
        assert status in (400, 404, 413) and error_code(answer) == code, (reference, answer)
    assert blob_files(server.root) == before
    assert json.loads(server.request("GET", "/v2/a/tags/list")[2])["tags"] == ["v1"]


def test_a_manifest_needs_its_blobs_in_this_repository(server):
    manifest, _ = push_image(server, "a", "v1")
    status, _, body = server.request("PUT", "/v2/b/manifests/v1", manifest, {"Content-Type": OCI_MANIFEST})
    assert (status, error_code(body)) == (400, "MANIFEST_BLOB_UNKNOWN")


def test_cross_repository_mount(server):
    digest = push_blob(server, "a", b"shared layer")
    status, headers, _ = server.request("POST", f"/v2/b/blobs/uploads/?mount={digest}&from=a")
    assert (status, headers["location"]) == (201, f"/v2/b/blobs/{digest}")
    assert server.request("GET", f"/v2/b/blobs/{digest}")[2] == b"shared layer"
    status, headers, _ = server.request("POST", f"/v2/c/blobs/uploads/?mount={digest}&from=nowhere")
    assert status == 202 and "docker-upload-uuid" in headers          # falls back to an upload


def test_index_subject_and_referrers(server):
    _, image = push_image(server, "a", "v1")
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image, "size": 1}]}).encode()
    status, _, _ = server.request("PUT", "/v2/a/manifests/multi", index,
                                  {"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert status == 201
    missing = index.replace(image[7:].encode(), b"0" * 64)
    status, _, body = server.request("PUT", "/v2/a/manifests/bad", missing,
                                     {"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert (status, error_code(body)) == (400, "MANIFEST_BLOB_UNKNOWN")
    config = push_blob(server, "a", b"{}")
    signature = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x-sig",
                            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
                            "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": image, "size": 1}}).encode()
    status, headers, _ = server.request("PUT", f"/v2/a/manifests/{digest_of(signature)}", signature,
                                        {"Content-Type": OCI_MANIFEST})
    assert status == 201 and headers["oci-subject"] == image
    status, headers, body = server.request("GET", f"/v2/a/referrers/{image}")
    found = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/vnd.oci.image.index.v1+json"
    assert [(d["digest"], d["artifactType"]) for d in found["manifests"]] == [(digest_of(signature), "application/x-sig")]
    body = server.request("GET", f"/v2/a/referrers/{image}?artifactType=application/other")[2]
    assert json.loads(body)["manifests"] == []


def test_tags_and_catalog_pagination(server):
    for name, tag in [("x", "1"), ("x", "2"), ("x", "3"), ("y", "1"), ("z/w", "1")]:
        push_image(server, name, tag)
    status, headers, body = server.request("GET", "/v2/x/tags/list?n=2")
    assert json.loads(body) == {"name": "x", "tags": ["1", "2"]}
    assert headers["link"] == '</v2/x/tags/list?n=2&last=2>; rel="next"'
    status, headers, body = server.request("GET", "/v2/x/tags/list?n=2&last=2")
    assert json.loads(body)["tags"] == ["3"] and "link" not in headers
    assert json.loads(server.request("GET", "/v2/_catalog")[2]) == {"repositories": ["x", "y", "z/w"]}
    status, headers, body = server.request("GET", "/v2/_catalog?n=1&last=x")
    assert json.loads(body) == {"repositories": ["y"]} and "last=y" in headers["link"]
    status, _, body = server.request("GET", "/v2/x/tags/list?n=-1")
    assert (status, error_code(body)) == (400, "PAGINATION_NUMBER_INVALID")
    status, _, body = server.request("GET", "/v2/nope/tags/list")
    assert (status, error_code(body)) == (404, "NAME_UNKNOWN")


def test_delete_tag_manifest_and_blob(server):
    _, digest = push_image(server, "a", "v1")
    push_image(server, "a", "v2")
    assert server.request("DELETE", "/v2/a/manifests/v2")[0] == 202             # a tag: only the tag
    assert json.loads(server.request("GET", "/v2/a/tags/list")[2])["tags"] == ["v1"]
    assert server.request("DELETE", f"/v2/a/manifests/{digest}")[0] == 202       # the digest: its tags too
    assert json.loads(server.request("GET", "/v2/a/tags/list")[2])["tags"] == []
    assert server.request("GET", f"/v2/a/manifests/{digest}")[0] == 404
    layer = digest_of(b"layer")
    assert server.request("DELETE", f"/v2/a/blobs/{layer}")[0] == 202
    assert server.request("GET", f"/v2/a/blobs/{layer}")[0] == 404
    status, _, body = server.request("PATCH", f"/v2/a/blobs/{layer}")
    assert (status, error_code(body)) == (405, "UNSUPPORTED")


def test_ten_concurrent_pushes_of_shared_layers_lose_nothing(server):
    shared = [b"base layer " * 1000, b"second layer " * 1000]
    errors = []

    def push(i):
        try:
            push_image(server, f"team/app{i}", "latest", layers=[*shared, f"own {i}".encode()])
        except AssertionError as error:
            errors.append(error)
    threads = [threading.Thread(target=push, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(10):
        manifest = json.loads(server.request("GET", f"/v2/team/app{i}/manifests/latest")[2])
        for layer in manifest["layers"]:
            status, _, body = server.request("GET", f"/v2/team/app{i}/blobs/{layer['digest']}")
            assert status == 200 and digest_of(body) == layer["digest"]
    assert len(blob_files(server.root)) == 1 + 2 + 10 + 10    # config, shared, own layers, manifests
