"""minidocker pulls from the CNCF registry (distribution) what skopeo put there — umoci-made OCI
images, Docker schema 2 images, an OCI index — with Docker's lines, verifies every byte, records
RepoDigests, runs what it pulled, and refuses what does not check out, leaving the store as it was."""
import io, json, os, signal, subprocess, sys, time

import pytest

from image_helpers import snapshot
from registry_support import digest_of, layer_ids, seed, skopeo

pytest_plugins = ["registry_fixtures"]           # registry, proxy, layouts, private_config
pytestmark = pytest.mark.usefixtures("private_config")


def test_pull_prints_dockers_lines_and_the_image_runs(minidocker, registry):
    name = f"{registry.host}/library/busybox"
    digest, (layer,) = digest_of(registry, "library/busybox:latest"), layer_ids(registry, "library/busybox:latest")
    result = minidocker("pull", name)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "Using default tag: latest", "latest: Pulling from library/busybox", f"{layer}: Pulling fs layer",
        f"{layer}: Verifying Checksum", f"{layer}: Download complete", f"{layer}: Pull complete",
        f"Digest: {digest}", f"Status: Downloaded newer image for {name}:latest", f"{name}:latest"]
    ran = minidocker("run", "--rm", name, "sh", "-c", "echo pulled and ran")
    assert (ran.returncode, ran.stdout) == (0, "pulled and ran\n"), ran.stderr
    again = minidocker("pull", f"{name}:latest")    # Docker says nothing of the layers of an image it has
    assert again.stdout.splitlines() == ["latest: Pulling from library/busybox", f"Digest: {digest}",
                                         f"Status: Image is up to date for {name}:latest", f"{name}:latest"]
    assert minidocker("pull", "-q", name).stdout == f"{name}:latest\n"


def test_a_second_image_reuses_the_layer_it_shares(minidocker, registry):
    assert minidocker("pull", f"{registry.host}/library/busybox").returncode == 0
    base, top = layer_ids(registry, "tests/two:1")
    result = minidocker("pull", f"{registry.host}/tests/two:1")
    assert f"{base}: Already exists\n{top}: Pulling fs layer\n" in result.stdout, result.stdout
    ran = minidocker("run", "--rm", f"{registry.host}/tests/two:1", "cat", "/etc/two")
    assert ran.stdout == "two\n", ran.stderr


def test_repo_digests_pull_by_digest_and_rmi_by_digest(minidocker, registry):
    name, digest = f"{registry.host}/tests/two", digest_of(registry, "tests/two:1")
    by_digest = minidocker("pull", f"{name}@{digest}")
    assert by_digest.returncode == 0, by_digest.stderr
    assert by_digest.stdout.splitlines()[0] == f"{digest}: Pulling from tests/two"
    assert by_digest.stdout.splitlines()[-2:] == [f"Status: Downloaded newer image for {name}@{digest}", f"{name}@{digest}"]
    assert minidocker("pull", f"{name}:1").returncode == 0
    doc = json.loads(minidocker("image", "inspect", f"{name}:1").stdout)[0]
    assert doc["RepoDigests"] == [f"{name}@{digest}"] and doc["RepoTags"] == [f"{name}:1"]
    listed = minidocker("image", "ls", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}").stdout
    assert listed == f"{name} 1 {digest}\n"
    assert minidocker("pull", f"{name}@{digest}").stdout.splitlines()[-2].startswith("Status: Image is up to date")
    removed = minidocker("rmi", f"{name}@{digest}")
    assert removed.stdout.splitlines()[0] == f"Untagged: {name}@{digest}", removed.stderr


def test_an_oci_index_resolves_to_this_platform_or_the_one_asked_for(minidocker, registry, layouts):
    skopeo("copy", "-q", "--all", "--dest-tls-verify=false", layouts["multi"], f"docker://{registry.host}/tests/multi:1")
    from minidocker.image.oci import architecture
    name = f"{registry.host}/tests/multi:1"
    result = minidocker("pull", name)
    assert result.returncode == 0, result.stderr
    doc = json.loads(minidocker("image", "inspect", name).stdout)[0]
    assert doc["Architecture"] == architecture()
    assert doc["RepoDigests"][0].split("@")[1] == result.stdout.splitlines()[-3].split()[1]   # the index's digest
    other = "amd64" if architecture() == "arm64" else "arm64"
    pulled = minidocker("pull", "--platform", f"linux/{other}", name)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(minidocker("image", "inspect", name).stdout)[0]["Architecture"] == other
    missing = minidocker("pull", "--platform", "linux/s390x", name)
    assert (missing.returncode, missing.stderr) == (1, "minidocker: no matching manifest for linux/s390x in the manifest list entries\n")
    single = f"{registry.host}/tests/two:1"
    wrong = minidocker("pull", "--platform", f"linux/{other}", single)
    assert (wrong.returncode, wrong.stderr) == (1, f"minidocker: image with reference {single} was found but does not "
                                                   f"match the specified platform: wanted linux/{other}, actual: linux/{architecture()}\n")


def test_docker_schema2_images_pull_too(minidocker, registry, layouts):
    seed(layouts["bb"], registry, "tests/docker:v2s2", fmt="v2s2")
    result = minidocker("pull", f"{registry.host}/tests/docker:v2s2")
    assert result.returncode == 0, result.stderr
    manifest_digest = digest_of(registry, "tests/docker:v2s2")
    assert f"Digest: {manifest_digest}" in result.stdout


def test_errors_are_one_line_in_dockers_words_and_store_nothing(minidocker, registry, tmp_path):
    name = f"{registry.host}/library/busybox"
    cases = {
        f"{name}:nope": f"manifest for {name}:nope not found: manifest unknown: manifest unknown",
        f"{registry.host}/no/such:1": f"manifest for {registry.host}/no/such:1 not found: manifest unknown: manifest unknown",
        "127.0.0.1:9/busybox": 'Get "https://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused',
        "Bad:Name": "invalid reference format: repository name (library/Bad) must be lowercase",
    }
    for reference, message in cases.items():
        result = minidocker("pull", reference)
        assert (result.returncode, result.stderr) == (1, f"minidocker: {message}\n"), reference
    assert not any(k.startswith(("blobs/sha256/", "images/")) for k in snapshot(tmp_path / "state"))


def _tamper(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_tampered_blob_is_refused_and_nothing_enters_the_store(minidocker, registry, tmp_path):
    assert minidocker("pull", f"{registry.host}/library/busybox").returncode == 0
    before = snapshot(tmp_path / "state")
    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/tests/two:1").stdout)
    top = manifest["layers"][-1]["digest"]
    _tamper(registry.blob_file(top))
    result = minidocker("pull", f"{registry.host}/tests/two:1")
    assert (result.returncode, result.stderr) == (1, f"minidocker: filesystem layer verification failed for digest {top}\n")
    assert snapshot(tmp_path / "state") == before
    assert not list((tmp_path / "state/downloads").glob("*.partial")) or \
        all(p.stat().st_size == 0 for p in (tmp_path / "state/downloads").glob("*.partial"))


def test_a_tampered_manifest_is_refused(minidocker, registry, tmp_path):
    digest = digest_of(registry, "tests/two:1")
    _tamper(registry.blob_file(digest))
    for reference in (f"{registry.host}/tests/two:1", f"{registry.host}/tests/two@{digest}"):
        result = minidocker("pull", reference)
        assert result.returncode == 1 and "verification failed for digest" in result.stderr, result.stderr
    assert not (tmp_path / "state/image/images").exists() or not list((tmp_path / "state/image/images").iterdir())


def test_a_wrong_docker_content_digest_and_schema1_are_refused(minidocker, proxy, tmp_path):
    proxy.faults["wrong_digest"] = True
    result = minidocker("pull", f"{proxy.host}/tests/two:1")
    assert (result.returncode, result.stderr) == (1, f"minidocker: manifest verification failed for digest sha256:{'0' * 64}\n")
    proxy.faults = {"schema1": True}
    result = minidocker("pull", f"{proxy.host}/tests/two:1")
    assert result.returncode == 1 and result.stderr.startswith("minidocker: [DEPRECATION NOTICE] Docker Image Format v1")
    assert result.stderr.count("\n") == 1


def test_429_is_waited_out_then_given_up(minidocker, proxy):
    proxy.faults["rate_limit"] = 2
    result = minidocker("pull", f"{proxy.host}/tests/two:1")
    assert result.returncode == 0, result.stderr
    proxy.faults["rate_limit"] = 10
    result = minidocker("pull", f"{proxy.host}/library/busybox:latest")
    assert (result.returncode, result.stderr) == (
        1, f"minidocker: error pulling {proxy.host}/library/busybox:latest: toomanyrequests: You have reached your pull rate limit.\n")


def test_a_truncated_download_is_refused_and_a_broken_one_resumes_with_range(minidocker, proxy, tmp_path):
    proxy.faults["truncate"] = 100                    # every answer cut short: given up, nothing stored
    result = minidocker("pull", f"{proxy.host}/library/busybox")
    assert result.returncode == 1 and "filesystem layer verification failed" in result.stderr, result.stderr
    assert not any(k.startswith(("blobs/sha256/", "layers/", "images/")) for k in snapshot(tmp_path / "state"))
    proxy.faults["truncate"], proxy.requests[:] = 1, []
    result = minidocker("pull", f"{proxy.host}/library/busybox")
    assert result.returncode == 0, result.stderr
    ranges = [r for m, path, r in proxy.requests if "/blobs/" in path and r]
    assert ranges and ranges[0].startswith("bytes=") and ranges[0] != "bytes=0-", proxy.requests


def test_a_pull_killed_with_sigkill_resumes_and_completes(minidocker, proxy, tmp_path):
    proxy.faults["throttle"] = 0.05                  # 64 KiB every 50 ms: about a second per MB
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    pull = subprocess.Popen([sys.executable, "-m", "minidocker", "pull", f"{proxy.host}/library/busybox"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partials = tmp_path / "state/downloads"
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 200_000 for p in partials.glob("*.partial")):
            assert time.monotonic() < deadline and pull.poll() is None, "the pull never got going"
            time.sleep(0.02)
    finally:
        pull.send_signal(signal.SIGKILL)
        pull.wait()
    assert not any(k.startswith(("blobs/sha256/", "layers/", "images/")) for k in snapshot(tmp_path / "state"))
    proxy.faults, proxy.requests[:] = {}, []
    again = minidocker("pull", f"{proxy.host}/library/busybox")
    assert again.returncode == 0, again.stderr
    ranges = [r for m, path, r in proxy.requests if "/blobs/" in path and r]
    assert ranges and int(ranges[0].split("=")[1].rstrip("-")) > 200_000, proxy.requests
    assert list(partials.glob("*.partial")) == []
    ran = minidocker("run", "--rm", f"{proxy.host}/library/busybox", "true")
    assert ran.returncode == 0, ran.stderr


def test_five_concurrent_pulls_store_shared_layers_once_and_lose_no_tag(minidocker, registry, layouts, tmp_path):
    for i in range(3):
        seed(layouts["two"], registry, f"tests/shared{i}:{i}")
    names = [f"{registry.host}/library/busybox", f"{registry.host}/tests/two:1"] + \
        [f"{registry.host}/tests/shared{i}:{i}" for i in range(3)]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    pulls = [subprocess.Popen([sys.executable, "-m", "minidocker", "pull", "-q", name], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name in names]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in pulls]
    assert all(code == 0 for _, _, code in results), results
    listed = minidocker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(listed) == sorted(n if n.rsplit("/", 1)[-1].count(":") else n + ":latest" for n in names)
    layers = list((tmp_path / "state/image/layers").iterdir())
    assert len(layers) == 2                                  # busybox, and the layer all the others add on it
    blobs = [p for p in (tmp_path / "state/image/blobs/sha256").iterdir()]
    assert len({p.name for p in blobs}) == len(blobs)


def test_pull_all_tags(minidocker, registry, layouts):
    seed(layouts["bb"], registry, "tests/two:2")
    name = f"{registry.host}/tests/two"
    result = minidocker("pull", "-a", name)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if "Pulling from" in line] == ["1: Pulling from tests/two", "2: Pulling from tests/two"]
    assert lines[-2:] == [f"Status: Downloaded newer image for {name}", name]
    listed = minidocker("image", "ls", "--format", "{{.Tag}}", name).stdout.split()
    assert sorted(listed) == ["1", "2"]
    tagged = minidocker("pull", "-a", f"{name}:1")
    assert (tagged.returncode, tagged.stderr) == (1, "minidocker: tag can't be used with --all-tags/-a\n")


def test_ensure_image_applies_runs_pull_policy(registry, tmp_path):
    from minidocker.image.store import ImageNotFound, Store
    from minidocker.registry.pull import ensure_image
    store, name = Store(tmp_path / "store"), f"{registry.host}/library/busybox:latest"
    with pytest.raises(ImageNotFound):
        ensure_image(name, "never", store=store)
    out = io.StringIO()
    image_id = ensure_image(name, "missing", out=out, store=store)
    lines = out.getvalue().splitlines()
    assert lines[:2] == [f"Unable to find image '{name}' locally", "latest: Pulling from library/busybox"]
    assert lines[-1] == f"Status: Downloaded newer image for {name}"
    out = io.StringIO()
    assert ensure_image(name, "missing", out=out, store=store) == image_id and out.getvalue() == ""
    assert ensure_image(name, "always", out=out, store=store) == image_id
    assert out.getvalue().splitlines()[-1] == f"Status: Image is up to date for {name}"
    assert ensure_image(name, "never", store=store) == image_id


def test_layers_beyond_the_download_slots_wait(registry, tmp_path, monkeypatch):
    from minidocker.image.store import Store
    from minidocker.registry import pull as pulling
    monkeypatch.setattr(pulling, "CONCURRENT_DOWNLOADS", 1)
    out = io.StringIO()
    pulling.pull(f"{registry.host}/tests/two:1", out=out, store=Store(tmp_path / "store"))
    base, top = layer_ids(registry, "tests/two:1")
    lines = out.getvalue().splitlines()
    assert lines[1:4] == [f"{base}: Pulling fs layer", f"{top}: Pulling fs layer", f"{top}: Waiting"], lines


def test_run_pulls_an_image_it_does_not_have_as_docker_does(minidocker, registry):
    name = f"{registry.host}/library/busybox"
    never = minidocker("run", "--rm", "--pull", "never", name, "true")
    assert never.returncode == 125 and never.stderr.count("\n") == 1, never.stderr
    assert f"Unable to find image '{name}:latest' locally" in never.stderr
    ran = minidocker("run", "--rm", name, "echo", "hello")
    assert (ran.returncode, ran.stdout) == (0, "hello\n"), ran.stderr
    lines = ran.stderr.splitlines()
    assert lines[:2] == [f"Unable to find image '{name}:latest' locally", "latest: Pulling from library/busybox"]
    assert lines[-1] == f"Status: Downloaded newer image for {name}:latest"
    again = minidocker("run", "--rm", name, "true")
    assert (again.returncode, again.stderr) == (0, "")
    always = minidocker("run", "--rm", "--pull", "always", name, "true")
    assert always.returncode == 0 and f"Status: Image is up to date for {name}:latest" in always.stderr
    bad = minidocker("run", "--rm", "--pull", "sometimes", name, "true")
    assert bad.returncode == 125 and "invalid pull option" in bad.stderr and bad.stderr.count("\n") == 1
    gone = minidocker("run", "--rm", f"{registry.host}/library/nothing:here", "true")
    assert gone.returncode == 125 and gone.stderr.count("\n") == 2, gone.stderr   # Unable to find…, the error


def test_image_pull_and_image_push_are_the_same_verbs(minidocker, registry):
    name = f"{registry.host}/library/busybox"
    assert minidocker("image", "pull", "-q", name).stdout == f"{name}:latest\n"
    assert minidocker("tag", name, f"{registry.host}/tests/again:1").returncode == 0
    pushed = minidocker("image", "push", f"{registry.host}/tests/again:1")
    assert pushed.returncode == 0 and "1: digest: sha256:" in pushed.stdout, pushed.stderr
