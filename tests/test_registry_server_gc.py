"""`registry garbage-collect`: mark and sweep keeps every blob a manifest references."""
import json, os, time

from registry_server_support import Server, digest_of, push_image


def test_gc_keeps_what_is_referenced(tmp_path, minidocker):
    root = tmp_path / "registry"
    server = Server(root)
    try:
        _, old = push_image(server, "app", "old", layers=[b"only old", b"shared"])
        _, new = push_image(server, "app", "new", layers=[b"shared", b"only new"])
        push_image(server, "other", "v1", layers=[b"only old"])       # the same bytes, another repository
        _, gone = push_image(server, "app", "gone", layers=[b"garbage"])
        assert server.request("DELETE", f"/v2/app/manifests/{old}")[0] == 202
        assert server.request("DELETE", f"/v2/app/manifests/{gone}")[0] == 202
    finally:
        server.stop()
    stale = root / "repositories/app/_uploads" / ("0" * 32)
    stale.write_bytes(b"a dead push")
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    blobs_before = sorted(p.name for p in (root / "blobs/sha256").glob("*/*"))

    dry = minidocker("registry", "garbage-collect", "--dry-run", "--root", root)
    assert dry.returncode == 0, dry.stderr
    eligible = sorted(line.split()[-1] for line in dry.stdout.splitlines() if line.startswith("blob eligible"))
    assert eligible == sorted([old, gone, digest_of(b"garbage")])
    assert sorted(p.name for p in (root / "blobs/sha256").glob("*/*")) == blobs_before and stale.exists()

    done = minidocker("registry", "garbage-collect", "--root", root)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "3 blobs deleted", done.stdout
    assert not stale.exists()
    server = Server(root)
    try:
        for name, tag in (("app", "new"), ("other", "v1")):
            status, _, body = server.request("GET", f"/v2/{name}/manifests/{tag}")
            manifest = json.loads(body)
            for blob in [manifest["config"], *manifest["layers"]]:
                status, _, data = server.request("GET", f"/v2/{name}/blobs/{blob['digest']}")
                assert status == 200 and digest_of(data) == blob["digest"]
        assert server.request("GET", f"/v2/app/blobs/{digest_of(b'garbage')}")[0] == 404
    finally:
        server.stop()
