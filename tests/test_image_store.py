"""The content store: digests checked, writes atomic, layers shared and collected, crashes and
parallel processes leave a consistent store."""
import json, os, random, signal, subprocess, sys, time

import pytest

from image_helpers import commit, rootfs_tar, snapshot, store_problems
from support import require_root
from minidocker.image import archive, check, remove
from minidocker.image.store import DigestMismatch, Store, chain_ids, digest_of


@pytest.fixture
def state(tmp_path, monkeypatch):
    require_root()
    monkeypatch.setenv("MINIDOCKER_ROOT", str(tmp_path / "state"))
    return tmp_path / "state"


def test_chain_ids_follow_the_oci_rule():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, digest_of(f"{a} {b}".encode())]


def test_blob_with_the_wrong_digest_is_refused_and_the_store_unchanged(state, tmp_path):
    store = Store()
    with store.lock():
        store.put_blob(b"hello")
    before = snapshot(state)
    with store.lock(), pytest.raises(DigestMismatch):
        with open(rootfs_tar(tmp_path / "x.tar"), "rb") as f:
            store.put_blob_stream(f, expected="sha256:" + "0" * 64)
    assert snapshot(state) == before and not list(store.tmp.iterdir())


def test_a_tampered_blob_is_refused_on_read(state, tmp_path):
    image_id = archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "tiny:1")
    store = Store()
    path = store.blob_path(image_id)
    path.write_bytes(path.read_bytes().replace(b'"os":"linux"', b'"os":"linuz"'))
    with pytest.raises(DigestMismatch):
        store.config(image_id)
    assert any("does not match" in p or "corrupt" in p for p in store_problems())


def test_shared_layers_are_stored_once_and_collected_when_unused(state, tmp_path):
    base = archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "base:1")
    (tmp_path / "up1").mkdir()
    (tmp_path / "up1/one").write_text("1")
    (tmp_path / "up2").mkdir()
    (tmp_path / "up2/two").write_text("2")
    child1 = commit("base:1", tmp_path / "up1", "child:1")
    commit("base:1", tmp_path / "up2", "child:2")
    store = Store()
    assert len(list(store.layers.iterdir())) == 3
    base_chain, child1_chain = (chain_ids(store.config(i)["rootfs"]["diff_ids"]) for i in (base, child1))
    assert remove.layer_users(store)[base_chain[0]] == 3
    assert remove.remove("child:1") == ["Untagged: child:1", f"Deleted: {child1}", f"Deleted: {child1_chain[-1]}"]
    assert len(list(store.layers.iterdir())) == 2
    remove.remove("child:2")
    assert len(list(store.layers.iterdir())) == 1  # the base image still needs its layer
    assert remove.remove("base:1") == ["Untagged: base:1", f"Deleted: {base}", f"Deleted: {base_chain[0]}"]
    assert not list(store.layers.iterdir()) and not list(store.blobs.iterdir()) and store_problems() == []


def test_garbage_is_not_inconsistency_and_is_collected(state, tmp_path):
    archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "tiny:1")
    store = Store()
    with store.lock():
        store.put_blob(b"orphan")
        (store.tmp / "half-written").write_text("x")
    assert store_problems() == []
    assert check.collect_garbage() >= 1  # the orphan blob (tmp/ is swept by the exclusive lock)
    assert store_problems() == [] and not list(store.tmp.iterdir())


def test_a_reference_to_a_missing_image_is_an_inconsistency(state, tmp_path):
    image_id = archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "tiny:1")
    store = Store()
    (store.images / f"{image_id[7:]}.json").unlink()
    assert any("missing image" in p for p in store_problems())


def _cli(*args, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return subprocess.Popen([sys.executable, "-m", "minidocker", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _archive(tmp_path, busybox_rootfs, layers=3):
    """A docker-archive of a busybox image with a few more layers, made in a scratch store."""
    scratch = tmp_path / "scratch"
    env = dict(os.environ, MINIDOCKER_ROOT=str(scratch))
    os.environ["MINIDOCKER_ROOT"] = str(scratch)
    try:
        archive.import_rootfs(busybox_rootfs, "kill/me:base")
        for i in range(layers):
            up = tmp_path / f"up{i}"
            up.mkdir()
            (up / f"file{i}").write_bytes(os.urandom(200_000))
            commit(f"kill/me:{'base' if i == 0 else i - 1}", up, f"kill/me:{i}")
        with open(tmp_path / "image.tar", "wb") as out:
            archive.save([f"kill/me:{layers - 1}"], out)
    finally:
        os.environ["MINIDOCKER_ROOT"] = env["MINIDOCKER_ROOT"]
    return tmp_path / "image.tar"


def _kill_at_random(args, seconds, rounds, seed):
    rng = random.Random(seed)
    for _ in range(rounds):
        process = _cli(*args)
        time.sleep(rng.uniform(0, seconds))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert store_problems() == [], f"inconsistent after kill -9 of {args}"


def test_kill_9_during_load_and_rm_leaves_a_consistent_store(state, tmp_path, busybox_rootfs, monkeypatch):
    tar = _archive(tmp_path, busybox_rootfs)
    monkeypatch.setenv("MINIDOCKER_ROOT", str(state))
    started = time.monotonic()
    assert _cli("load", "-i", tar).wait() == 0
    load_time = time.monotonic() - started
    _cli("rmi", "kill/me:2").wait()
    _kill_at_random(["load", "-i", tar], load_time, 12, 1)
    _cli("load", "-i", tar).wait()
    assert store_problems() == [] and "docker.io/kill/me:2" in Store().references()
    for round in range(8):
        _kill_at_random(["rmi", "kill/me:2"], 0.4, 1, round)
        _cli("load", "-i", tar).wait()
    assert _cli("rmi", "kill/me:2").wait() == 0
    check.collect_garbage()
    assert store_problems() == [] and not Store().image_ids()
    assert not list(Store().layers.iterdir())


def test_parallel_loads_of_one_image_keep_every_tag(state, tmp_path, busybox_rootfs, monkeypatch):
    tar = _archive(tmp_path, busybox_rootfs, layers=1)
    tars = []
    for i in range(4):  # the same image under four names
        doc = subprocess.run(["tar", "-xOf", tar, "manifest.json"], capture_output=True, check=True).stdout
        (tmp_path / f"x{i}").mkdir()
        subprocess.run(["tar", "-xf", tar, "-C", tmp_path / f"x{i}"], check=True)
        manifest = json.loads(doc)
        manifest[0]["RepoTags"] = [f"parallel:{i}"]
        (tmp_path / f"x{i}/manifest.json").write_text(json.dumps(manifest))
        subprocess.run(["tar", "-cf", tmp_path / f"p{i}.tar", "-C", tmp_path / f"x{i}", "."], check=True)
        tars.append(tmp_path / f"p{i}.tar")
    monkeypatch.setenv("MINIDOCKER_ROOT", str(state))
    processes = [_cli("load", "-i", t) for t in tars]
    outputs = [p.communicate() for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    refs = Store().references()
    assert {f"docker.io/library/parallel:{i}" for i in range(4)} <= set(refs)
    assert len(set(refs.values())) == 1 and store_problems() == []


def _two_images(tmp_path):
    base = archive.import_rootfs(rootfs_tar(tmp_path / "a.tar", message="a"), "damaged:1")
    other = archive.import_rootfs(rootfs_tar(tmp_path / "b.tar", message="b"), "other:1")
    return Store(), base, other


@pytest.mark.parametrize("what", ["manifest", "config", "record"])
def test_gc_keeps_what_a_damaged_image_may_use_and_rmi_never_half_fails(state, tmp_path, capsys, what):
    store, damaged, other = _two_images(tmp_path)
    chain = chain_ids(store.config(damaged)["rootfs"]["diff_ids"])
    victim = {"manifest": store.blob_path(store.image_record(damaged)["manifest"]),
              "config": store.blob_path(damaged), "record": store.images / f"{damaged[7:]}.json"}[what]
    victim.write_bytes(b'{"not": "what it was"')
    everything = set(store.layers.iterdir())
    others = {store.layer_dir(c) for c in chain_ids(store.config(other)["rootfs"]["diff_ids"])}
    assert remove.remove("other:1")[:2] == ["Untagged: other:1", f"Deleted: {other}"]   # an unrelated rmi
    # an unreadable config could name any layer: all are kept; otherwise only the unused one goes
    assert set(store.layers.iterdir()) == (everything if what == "config" else everything - others)
    assert all(store.has_layer(c) for c in chain)
    assert f"image {damaged[7:19]} is damaged" in capsys.readouterr().err
    assert any(damaged in p for p in store_problems())
    if what != "record":
        assert store.blob_path(damaged).exists() or what == "config"
    assert remove.remove("damaged:1") == ["Untagged: damaged:1", f"Deleted: {damaged}"] + \
        ([f"Deleted: {chain[0]}"] if what != "config" else [])
    assert not store.image_ids() and not list(store.layers.iterdir()) and store_problems() == []


def test_rmi_f_of_a_stopped_containers_image_deletes_the_image_not_its_layers(state, tmp_path):
    """Docker's imageDeleteHelper ignores a stopped container when forced: Untagged, Deleted: the
    image; its layers stay with the container (and its config, to start it again)."""
    image_id = archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "used:1")
    store = Store()
    chain = chain_ids(store.config(image_id)["rootfs"]["diff_ids"])
    record = state / "containers/0123456789abcdef/config.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"ID": record.parent.name, "Image": image_id, "State": {"Running": False}}))
    with pytest.raises(remove.ImageConflict, match="must force"):
        remove.remove("used:1")
    assert remove.remove("used:1", force=True) == ["Untagged: used:1", f"Deleted: {image_id}"]
    assert not store.image_ids() and store.has_layer(chain[0]) and store.config(image_id)
    assert check.collect_garbage() == 0 and store.has_layer(chain[0])
    record.unlink()                          # the container goes: now nothing uses the layer
    check.collect_garbage()
    assert not list(store.layers.iterdir()) and not list(store.blobs.iterdir())


@pytest.mark.parametrize("compress", ["bz2", "lzma"])
def test_bzip2_and_xz_layers_are_kept_and_saved_as_the_plain_tar(state, tmp_path, compress):
    """docker load takes bzip2/xz layers; OCI has no media type for them, and docker save writes
    plain tars: the store keeps the plain tar (digest = diff id), so save tells the truth."""
    import bz2, hashlib, io, lzma, tarfile
    image_id = archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "plain:1")
    with open(tmp_path / "a.tar", "wb") as out:
        archive.save(["plain:1"], out)
    remove.remove("plain:1")
    layout = tmp_path / "layout"
    with tarfile.open(tmp_path / "a.tar") as tar:
        tar.extractall(layout)
    doc = json.loads((layout / "manifest.json").read_text())
    plain = (layout / doc[0]["Layers"][0]).read_bytes()
    squeezed = {"bz2": bz2, "lzma": lzma}[compress].compress(plain)
    name = "blobs/sha256/" + hashlib.sha256(squeezed).hexdigest()
    (layout / name).write_bytes(squeezed)
    doc[0]["Layers"] = [name]
    (layout / "manifest.json").write_text(json.dumps(doc))
    assert archive.load(str(layout)) == ["Loaded image: plain:1"]
    store = Store()
    diff_id = store.config(image_id)["rootfs"]["diff_ids"][0]
    assert store.manifest(image_id)["layers"][0] == {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                                   "digest": diff_id, "size": len(plain)}
    out = io.BytesIO()
    archive.save(["plain:1"], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        saved = tar.extractfile(f"blobs/sha256/{diff_id[7:]}").read()
    assert digest_of(saved) == diff_id and store_problems(deep=True) == []


def test_a_layer_without_its_completion_marker_is_absent_and_collected(state, tmp_path):
    """layer.json is written (and fsynced) last: a layer directory without it — what a crash
    could leave — is not a layer; the collector removes it and a new load unpacks it again."""
    image_id = archive.import_rootfs(rootfs_tar(tmp_path / "r.tar"), "marker:1")
    with open(tmp_path / "a.tar", "wb") as out:
        archive.save(["marker:1"], out)
    store = Store()
    [chain_id] = chain_ids(store.config(image_id)["rootfs"]["diff_ids"])
    (store.layer_dir(chain_id) / "layer.json").unlink()
    assert not store.has_layer(chain_id) and any("missing" in p for p in store_problems())
    assert archive.load(str(tmp_path / "a.tar")) == ["Loaded image: marker:1"]   # unpacked again
    assert store.has_layer(chain_id) and store_problems() == []
    (store.layer_dir(chain_id) / "layer.json").unlink()
    remove.remove("marker:1")
    check.collect_garbage()
    assert not list(store.layers.iterdir()) and store_problems() == []
