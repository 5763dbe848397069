"""Chapter 4, Union FS: overlay mounts on the real kernel, OCI layer tar <-> overlay layer directory,
safe extraction, and interop with umoci in both directions."""
import bz2, gzip, hashlib, io, json, lzma, os, shutil, socket, stat, subprocess, tarfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from support import require, require_root

from minidocker.errors import KernelError, MinidockerError
from minidocker.storage.layers import LayerDigests, LayerError, dir_size, pack_layer, unpack_layer
from minidocker.storage.overlay import MAX_OPTIONS, mount_overlay, overlay_options, unmount

KEPT_XATTRS = ("user.", "security.capability", "trusted.overlay.opaque")
# struct vfs_cap_data, revision 2: effective, permitted = CAP_NET_BIND_SERVICE (10)
CAPABILITY = (0x02000001).to_bytes(4, "little") + (1 << 10).to_bytes(4, "little") + bytes(12)


@pytest.fixture(autouse=True)
def _root():
    require_root()


@contextmanager
def mounted(lowers, upper, work, target):
    """The overlay exists inside the `with` block only, even when the test fails in it."""
    mount_overlay(lowers, upper, work, target)
    try:
        yield Path(target)
    finally:
        unmount(target)


def dirs(base: Path, *names) -> list[Path]:
    paths = [base / n for n in names]
    for p in paths:
        p.mkdir(parents=True)
    return paths


def snapshot(root, dir_mtimes=True) -> dict:
    """Everything a layer must preserve, per path: type, mode, owner, content, link, xattrs, mtime.
    dir_mtimes=False leaves out directories' mtimes: umoci unpack does not keep them (it applies a
    layer's whiteouts after setting its directories' times), and an overlay's root is its upper's."""
    root, result, inodes = Path(root), {}, {}
    for path in sorted([root, *root.rglob("*")]):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISREG(st.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            what = os.readlink(path)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            what = (os.major(st.st_rdev), os.minor(st.st_rdev))
        else:
            what = None
        inodes.setdefault(st.st_ino, []).append(rel)
        xattrs = {n: os.getxattr(path, n, follow_symlinks=False) for n in os.listxattr(path, follow_symlinks=False)
                  if n.startswith(KEPT_XATTRS)}
        keep = dir_mtimes or not stat.S_ISDIR(st.st_mode)
        mtime = int(st.st_mtime) if keep else None
        result[rel] = [stat.filemode(st.st_mode), st.st_uid, st.st_gid, what, st.st_ino, xattrs, mtime]
    for entry in result.values():        # hard links: the first of the names sharing an inode here
        names = inodes[entry[4]]
        entry[4] = names[0] if len(names) > 1 and not entry[0].startswith("d") else None
    return {rel: tuple(entry) for rel, entry in result.items()}


def same_tree(got: dict, want: dict) -> bool:
    """Compare two snapshots; on a difference, fail with the paths and fields that differ."""
    fields = ("mode", "uid", "gid", "content", "hardlink", "xattrs", "mtime")
    diffs = [f"{rel}: only in {'got' if rel in got else 'want'}" for rel in sorted(set(got) ^ set(want))]
    for rel in sorted(set(got) & set(want)):
        diffs += [f"{rel}: {f} {a!r} != {b!r}" for f, a, b in zip(fields, got[rel], want[rel]) if a != b]
    assert not diffs, "trees differ:\n" + "\n".join(diffs)
    return True


def tar_of(*entries, compress=None) -> bytes:
    """A tar archive from (name, type, data/linkname, extra TarInfo attributes) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, arg, *extra in entries:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = kind, 0o755 if kind == tarfile.DIRTYPE else 0o644, 1_600_000_000
            for key, value in (extra[0] if extra else {}).items():
                setattr(ti, key, value)
            if kind == tarfile.REGTYPE:
                ti.size = len(arg)
                tar.addfile(ti, io.BytesIO(arg))
            else:
                ti.linkname = arg or ""
                tar.addfile(ti)
    data = buf.getvalue()
    return {None: data, "gzip": gzip.compress(data), "bzip2": bz2.compress(data), "xz": lzma.compress(data)}[compress]


F, D, SYM, LNK = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


# --- overlay mounts ---------------------------------------------------------------------------

def test_overlay_copy_up_whiteout_and_opaque_dir(tmp_path):
    lower, upper, work, merged = dirs(tmp_path, "lower", "upper", "work", "merged")
    (lower / "big").write_bytes(b"x" * 100_000)
    (lower / "gone").write_text("bye")
    (lower / "d").mkdir()
    (lower / "d/old").write_text("old")
    (lower / "keep").write_text("keep")
    with mounted([lower], upper, work, merged):
        with open(merged / "big", "ab") as f:
            f.write(b"!")
        os.chmod(merged / "keep", 0o600)
        (merged / "gone").unlink()
        shutil.rmtree(merged / "d")
        (merged / "d").mkdir()
        (merged / "d/new").write_text("new")
        assert sorted(os.listdir(merged)) == ["big", "d", "keep"]
        assert os.listdir(merged / "d") == ["new"]
    # copy-up: the whole file, in the upper layer only
    assert (upper / "big").stat().st_size == 100_001 and (lower / "big").stat().st_size == 100_000
    assert stat.S_IMODE((upper / "keep").stat().st_mode) == 0o600 and (upper / "keep").read_text() == "keep"
    # whiteout: a character device 0/0; the lower file is still there
    st = (upper / "gone").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 and (lower / "gone").read_text() == "bye"
    # opaque directory
    assert os.getxattr(upper / "d", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(upper / "d")) == ["new"] and (lower / "d/old").exists()


def test_overlay_lowers_are_top_most_first_and_read_only_without_upper(tmp_path):
    top, bottom, target = dirs(tmp_path, "top", "bottom", "merged")
    (top / "who").write_text("top")
    (bottom / "who").write_text("bottom")
    (bottom / "only-below").write_text("b")
    with mounted([top, bottom], None, None, target) as merged:
        assert (merged / "who").read_text() == "top"
        assert (merged / "only-below").read_text() == "b"
        with pytest.raises(OSError):
            (merged / "new").write_text("x")


def test_overlay_many_long_lowerdirs_beyond_the_page_limit(tmp_path):
    stack = []
    for i in range(150):
        layer = tmp_path / "layers/sha256" / f"{i:064x}"
        layer.mkdir(parents=True)
        (layer / f"f{i}").write_text(str(i))
        (layer / "who").write_text(str(i))
        stack.insert(0, layer)
    upper, work, target = dirs(tmp_path, "upper", "work", "merged")
    assert len(overlay_options(stack, upper, work)) > MAX_OPTIONS
    with mounted(stack, upper, work, target) as merged:
        assert (merged / "who").read_text() == "149"
        assert len(os.listdir(merged)) == 151
        (merged / "f0").write_text("changed")
    assert (upper / "f0").read_text() == "changed"


def test_overlay_paths_with_option_separators(tmp_path):
    lower, upper, work, target = dirs(tmp_path, "a,b:c\\d", "up,per", "wo:rk", "merged")
    (lower / "x").write_text("x")
    with mounted([lower], upper, work, target) as merged:
        assert (merged / "x").read_text() == "x"


def test_overlay_errors_are_one_line(tmp_path):
    lower, upper, work, target = dirs(tmp_path, "lower", "upper", "work", "merged")
    for args in ([[tmp_path / "missing"], upper, work, target], [[], upper, work, target],
                 [[lower], None, None, target], [[lower], upper, None, target]):
        with pytest.raises(KernelError) as caught:
            mount_overlay(*args)
        assert "\n" not in str(caught.value)
    (upper / "w").mkdir()                                # the kernel itself refuses: work inside upper
    with pytest.raises(KernelError, match="cannot mount an overlay") as caught:
        mount_overlay([lower], upper, upper / "w", target)
    assert "\n" not in str(caught.value)
    unmount(target)                                      # nothing mounted: not an error


# --- layer tar <-> layer directory ------------------------------------------------------------

def rich_upper(tmp_path) -> Path:
    """An upper directory with every kind of entry a layer must carry."""
    u = tmp_path / "upper"
    (u / "etc/sub").mkdir(parents=True)
    (u / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.link(u / "etc/passwd", u / "etc/passwd-hardlink")
    (u / "bin").mkdir()
    (u / "bin/tool").write_bytes(os.urandom(5000))
    os.chown(u / "bin/tool", 0, 0)
    os.chmod(u / "bin/tool", 0o4755)
    os.setxattr(u / "bin/tool", "security.capability", CAPABILITY)
    (u / "home/user").mkdir(parents=True)
    (u / "home/user/notes").write_text("mine")
    for p in [u / "home/user", u / "home/user/notes"]:
        os.chown(p, 1000, 1000)
    os.chmod(u / "home/user/notes", 0o600)
    os.setxattr(u / "home/user/notes", "user.comment", b"\xff\x00binary")
    os.symlink("/etc/passwd", u / "abs-link")
    os.symlink("../etc/passwd", u / "bin/rel-link")
    os.link(u / "abs-link", u / "hardlink-to-symlink", follow_symlinks=False)
    os.mkfifo(u / "fifo")
    os.mknod(u / "etc/deleted", stat.S_IFCHR, os.makedev(0, 0))     # whiteout
    (u / "opaque").mkdir()
    (u / "opaque/inside").write_text("only this")
    os.setxattr(u / "opaque", "trusted.overlay.opaque", b"y")
    (u / "empty-dir").mkdir(mode=0o710)
    long_dir = u / ("long-" * 30)
    long_dir.mkdir()
    (long_dir / ("name-" * 30)).write_text("long")
    for i, p in enumerate(sorted(u.rglob("*"), reverse=True)):
        os.utime(p, (1_500_000_000 + i, 1_500_000_000 + i), follow_symlinks=False)
    return u


def test_busybox_rootfs_round_trip_runs_in_an_overlay(tmp_path, busybox_rootfs):
    blob = tmp_path / "busybox.tar.gz"
    with open(blob, "wb") as f:
        digests = pack_layer(busybox_rootfs, f)
    assert unpack_layer(blob, tmp_path / "layer") == digests.diff_id
    want, got = snapshot(busybox_rootfs), snapshot(tmp_path / "layer")
    want.pop("."), got.pop(".")                        # the root is not an entry of the layer
    assert same_tree(got, want)
    upper, work, target = dirs(tmp_path, "upper", "work", "merged")
    with mounted([tmp_path / "layer"], upper, work, target) as merged:
        result = subprocess.run(["chroot", str(merged), "/bin/sh", "-c", "echo hi > /tmp/x; rm /bin/ls; cat /etc/os-release"],
                                capture_output=True, text=True)
    assert result.returncode == 0 and "BusyBox" in result.stdout, result.stderr
    assert sorted(p.name for p in upper.rglob("*")) == ["bin", "ls", "tmp", "x"]
    assert (tmp_path / "layer/bin/ls").is_symlink()


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_round_trip_preserves_everything(tmp_path, compressed):
    upper = rich_upper(tmp_path)
    buf = io.BytesIO()
    digests = pack_layer(upper, buf, gzip=compressed)
    blob = buf.getvalue()
    raw = gzip.decompress(blob) if compressed else blob
    assert digests == LayerDigests("sha256:" + hashlib.sha256(raw).hexdigest(),
                                   "sha256:" + hashlib.sha256(blob).hexdigest(), len(blob))
    names = tarfile.open(fileobj=io.BytesIO(raw)).getnames()
    assert "etc/.wh.deleted" in names and "opaque/.wh..wh..opq" in names
    assert unpack_layer(io.BytesIO(blob), tmp_path / "out") == digests.diff_id
    want, got = snapshot(upper), snapshot(tmp_path / "out")
    want.pop("."), got.pop(".")                        # the root is not an entry of the layer
    assert same_tree(got, want)
    again = io.BytesIO()
    assert pack_layer(tmp_path / "out", again, gzip=compressed) == digests   # deterministic
    assert again.getvalue() == blob


def test_pack_leaves_out_devices_and_sockets(tmp_path):
    u = tmp_path / "u"
    (u / "dev").mkdir(parents=True)
    os.mknod(u / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(u / "dev/sda", stat.S_IFBLK | 0o600, os.makedev(8, 0))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(u / "sock"))
        raw = io.BytesIO()
        pack_layer(u, raw, gzip=False)
    assert tarfile.open(fileobj=io.BytesIO(raw.getvalue())).getnames() == ["dev"]


def test_pack_sorts_entries_parents_first(tmp_path):
    u = tmp_path / "u"
    for name in ["b/z", "a", "b/a", "c/d/e"]:
        (u / name).parent.mkdir(parents=True, exist_ok=True)
        (u / name).write_text(name)
    raw = io.BytesIO()
    pack_layer(u, raw, gzip=False)
    assert tarfile.open(fileobj=io.BytesIO(raw.getvalue())).getnames() == ["a", "b", "b/a", "b/z", "c", "c/d", "c/d/e"]


@pytest.mark.parametrize("compress", [None, "gzip", "bzip2", "xz"])
def test_unpack_detects_compression_and_hashes_the_uncompressed_tar(tmp_path, compress):
    entries = [("d", D, None), ("d/f", F, b"data")]
    plain = tar_of(*entries)
    blob = tar_of(*entries, compress=compress)
    path = tmp_path / "layer.blob"
    path.write_bytes(blob)
    assert unpack_layer(path, tmp_path / "a") == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert unpack_layer(io.BytesIO(blob), tmp_path / "b") == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert (tmp_path / "a/d/f").read_bytes() == b"data"


def test_unpack_oci_whiteouts_into_overlay_form(tmp_path):
    layer = tar_of((".wh..wh..opq", F, b""), ("a", D, None), ("a/.wh.x", F, b""), ("a/keep", F, b"k"),
                   ("b/.wh..wh..opq", F, b""), ("b", D, None), ("b/new", F, b"n"), ("c/.wh..wh.plnk", F, b""),
                   (".wh..wh.plnk", D, None), (".wh..wh.plnk/123.456", F, b"aufs"))
    unpack_layer(io.BytesIO(layer), tmp_path / "out")
    out = tmp_path / "out"
    st = (out / "a/x").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(out, "trusted.overlay.opaque") == b"y"
    assert os.getxattr(out / "b", "trusted.overlay.opaque") == b"y"
    assert "trusted.overlay.opaque" not in os.listxattr(out / "a")
    assert sorted(os.listdir(out)) == ["a", "b", "c"] and os.listdir(out / "c") == []   # AUFS metadata ignored
    # and overlay reads them that way
    lower, upper, work, target = dirs(tmp_path, "lower", "upper", "work", "merged")
    (lower / "a").mkdir()
    (lower / "a/x").write_text("x")
    (lower / "b").mkdir()
    (lower / "b/old").write_text("old")
    with mounted([out, lower], upper, work, target) as merged:
        assert sorted(os.listdir(merged / "a")) == ["keep"]
        assert sorted(os.listdir(merged / "b")) == ["new"]


def test_unpack_implicit_parents_repeated_dirs_and_root_entry(tmp_path):
    layer = tar_of((".", D, None, {"mode": 0o700}), ("x/y/z", F, b"z"), ("x", D, None, {"mode": 0o750, "uid": 7}),
                   ("x", D, None, {"mode": 0o751, "uid": 7}))
    unpack_layer(io.BytesIO(layer), tmp_path / "out")
    out = tmp_path / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "x").stat().st_mode) == 0o751 and (out / "x").stat().st_uid == 7
    assert stat.S_IMODE((out / "x/y").stat().st_mode) == 0o755 and (out / "x/y/z").read_text() == "z"


def test_unpack_keeps_only_safe_xattrs(tmp_path):
    xattrs = {"SCHILY.xattr.user.a": "1", "SCHILY.xattr.trusted.overlay.opaque": "y",
              "SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.security.selinux": "x"}
    unpack_layer(io.BytesIO(tar_of(("d", D, None, {"pax_headers": xattrs}))), tmp_path / "out")
    assert os.listxattr(tmp_path / "out/d") == ["user.a"]


def test_unpack_into_an_existing_empty_directory_but_not_a_full_one(tmp_path):
    (tmp_path / "empty").mkdir()
    unpack_layer(io.BytesIO(tar_of(("f", F, b"1"))), tmp_path / "empty")
    assert (tmp_path / "empty/f").read_text() == "1"
    with pytest.raises(LayerError, match="not an empty directory"):
        unpack_layer(io.BytesIO(tar_of(("g", F, b"2"))), tmp_path / "empty")
    assert os.listdir(tmp_path / "empty") == ["f"]


def test_pack_refuses_overlay_redirects(tmp_path):
    (tmp_path / "u/d").mkdir(parents=True)
    os.setxattr(tmp_path / "u/d", "trusted.overlay.redirect", b"/old")
    with pytest.raises(LayerError, match="redirect"):
        pack_layer(tmp_path / "u", io.BytesIO())
    with pytest.raises(LayerError):
        pack_layer(tmp_path / "missing", io.BytesIO())


def test_dir_size_counts_hardlinks_once(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_bytes(os.urandom(100_000))
    os.link(d / "a", d / "b")
    (d / "c").write_bytes(b"x" * 10)
    du = int(subprocess.run(["du", "-s", "-B1", str(d)], capture_output=True, text=True, check=True).stdout.split()[0])
    assert dir_size(d) == du
    assert dir_size(d, apparent=True) == 100_010


# --- malicious and broken layers --------------------------------------------------------------

def evil_layers(outside: Path) -> dict:
    out = str(outside)
    return {
        "dot-dot": [("../outside/pwned", F, b"x")],
        "dot-dot inside": [("a/../../outside/pwned", F, b"x")],
        "absolute": [(f"{out}/pwned", F, b"x")],
        "symlink absolute, write through": [("l", SYM, out), ("l/pwned", F, b"x")],
        "symlink relative, write through": [("l", SYM, "../outside"), ("l/pwned", F, b"x")],
        "symlink, dir through it": [("l", SYM, out), ("l/sub/pwned", F, b"x")],
        "symlink, whiteout through it": [("l", SYM, out), ("l/.wh.secret", F, b"")],
        "symlink, opaque through it": [("l", SYM, out), ("l/.wh..wh..opq", F, b"")],
        "symlink, hardlink through it": [("l", SYM, out), ("h", LNK, "l/secret")],
        "hardlink absolute": [("h", LNK, f"{out}/secret")],
        "hardlink dot-dot": [("h", LNK, "../outside/secret")],
        "hardlink to a name not in the layer": [("h", LNK, "etc/passwd")],
        "char device": [("null", tarfile.CHRTYPE, None, {"devmajor": 1, "devminor": 3})],
        "block device": [("sda", tarfile.BLKTYPE, None, {"devmajor": 8, "devminor": 0})],
        "char 0/0 from the archive": [("w", tarfile.CHRTYPE, None, {"devmajor": 0, "devminor": 0})],
        "file then symlink": [("a", F, b"x"), ("a", SYM, out)],
        "dir then symlink then write": [("d", D, None), ("d", SYM, out), ("d/pwned", F, b"x")],
        "implicit dir then symlink": [("d/f", F, b"x"), ("d", SYM, out), ("d/pwned", F, b"x")],
        "symlink then file of the same name": [("a", SYM, f"{out}/secret"), ("a", F, b"x")],
        "file and its whiteout": [("a", F, b"x"), (".wh.a", F, b"")],
        "whiteout of dot-dot": [("d", D, None), ("d/.wh..", F, b"")],
        "file below a file": [("a", F, b"x"), ("a/b", F, b"y")],
        "owner out of range": [("a", F, b"x", {"pax_headers": {"uid": str(1 << 40)}})],
        "mtime out of range": [("a", F, b"x", {"pax_headers": {"mtime": "1e30"}})],
    }


@pytest.mark.parametrize("case", list(evil_layers(Path("/x"))))
def test_malicious_layer_is_refused_and_leaves_nothing(tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    os.chmod(outside / "secret", 0o600)
    before = snapshot(outside)
    home = tmp_path / "layers"
    home.mkdir()
    with pytest.raises(LayerError) as caught:
        unpack_layer(io.BytesIO(tar_of(*evil_layers(outside)[case], compress="gzip")), home / "dest")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, MinidockerError)
    assert snapshot(outside) == before
    assert os.listdir(home) == []                       # no destination, no temporary directory


@pytest.mark.parametrize("blob", [b"", b"garbage" * 100, gzip.compress(b"not a tar" * 100),
                                  tar_of(("f", F, os.urandom(5000)), compress="gzip")[:2000],
                                  tar_of(("f", F, b"x" * 5000))[:1500],
                                  b"\x28\xb5\x2f\xfd" + bytes(100)],
                         ids=["empty", "garbage", "gzip-not-tar", "truncated-gzip", "truncated-tar", "zstd"])
def test_broken_layer_is_one_line_error_and_leaves_nothing(tmp_path, blob):
    with pytest.raises(LayerError) as caught:
        unpack_layer(io.BytesIO(blob), tmp_path / "dest")
    assert "\n" not in str(caught.value)
    assert os.listdir(tmp_path) == []
    with pytest.raises(LayerError):
        unpack_layer(tmp_path / "no-such-file", tmp_path / "dest")
    assert os.listdir(tmp_path) == []


def test_unpack_syncs_the_tree_to_disk_before_it_appears(tmp_path, monkeypatch):
    """After a power cut a layer must be absent or whole: syncfs(2) runs on the complete tree,
    while the destination does not exist yet (the rename comes after)."""
    from minidocker.storage import layers
    seen = []

    def spy(path):
        seen.append((Path(path).name, (tmp_path / "dest").exists(), sorted(os.listdir(path))))
        real_sync(path)
    real_sync = layers.sync_tree
    monkeypatch.setattr(layers, "sync_tree", spy)
    unpack_layer(io.BytesIO(tar_of(("a", F, b"1"), ("b", F, b"2"))), tmp_path / "dest")
    assert [(exists, names) for _, exists, names in seen] == [(False, ["a", "b"])]
    assert seen[0][0].endswith(".unpacking") and sorted(os.listdir(tmp_path / "dest")) == ["a", "b"]


# --- interop with umoci -----------------------------------------------------------------------

def umoci(*args, cwd):
    result = subprocess.run(["umoci", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def layout_blob(layout: Path, digest: str) -> Path:
    return layout / "blobs/sha256" / digest.split(":")[1]


def manifest_of(layout: Path, tag: str) -> dict:
    index = json.loads((layout / "index.json").read_text())
    desc = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    return json.loads(layout_blob(layout, desc["digest"]).read_text())


def put_json(layout: Path, obj) -> dict:
    data = json.dumps(obj).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    layout_blob(layout, digest).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def append_layer(layout: Path, tag: str, new_tag: str, blob: bytes, digests: LayerDigests) -> None:
    """Add a gzip layer blob to an image by hand: blob, config diff_ids, manifest, index."""
    manifest = manifest_of(layout, tag)
    config = json.loads(layout_blob(layout, manifest["config"]["digest"]).read_text())
    config["rootfs"]["diff_ids"].append(digests.diff_id)
    layout_blob(layout, digests.digest).write_bytes(blob)
    manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                               "digest": digests.digest, "size": digests.size})
    manifest["config"].update(put_json(layout, config))
    index = json.loads((layout / "index.json").read_text())
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               **put_json(layout, manifest),
                               "annotations": {"org.opencontainers.image.ref.name": new_tag}})
    (layout / "index.json").write_text(json.dumps(index))


def unpack_image(layout: Path, tag: str, into: Path) -> list[Path]:
    """Unpack every layer of an image with minidocker; the layer directories, top-most first."""
    layers = []
    for i, layer in enumerate(manifest_of(layout, tag)["layers"]):
        dest = into / f"{i}"
        assert unpack_layer(layout_blob(layout, layer["digest"]), dest).startswith("sha256:")
        layers.insert(0, dest)
    return layers


@pytest.fixture
def umoci_image(tmp_path):
    """An OCI layout made by umoci: image t1 with one layer, t2 adding a layer with whiteouts."""
    require(shutil.which("umoci"), "umoci is not installed (./course setup installs it)")
    umoci("init", "--layout", "L", cwd=tmp_path)
    umoci("new", "--image", "L:t", cwd=tmp_path)
    umoci("unpack", "--image", "L:t", "B", cwd=tmp_path)
    r = tmp_path / "B/rootfs"
    for d in ["etc", "usr/share/doc", "home/user"]:
        (r / d).mkdir(parents=True)
    (r / "etc/a").write_text("hi\n")
    (r / "etc/gone").write_text("delete me\n")
    (r / "usr/share/doc/old").write_text("old\n")
    (r / "home/user/f").write_text("user's\n")
    os.chown(r / "home/user", 1000, 1000)
    os.chown(r / "home/user/f", 1000, 1000)
    os.chmod(r / "home/user/f", 0o640)
    os.symlink("/etc/a", r / "lnk")
    os.link(r / "etc/a", r / "etc/a-hard")
    os.mkfifo(r / "fifo")
    os.setxattr(r / "etc/a", "user.k", b"v")
    (r / "bin").mkdir()
    (r / "bin/tool").write_bytes(os.urandom(3000))
    os.chmod(r / "bin/tool", 0o4755)
    umoci("repack", "--refresh-bundle", "--image", "L:t1", "B", cwd=tmp_path)
    (r / "etc/gone").unlink()                          # umoci writes etc/.wh.gone
    with open(r / "etc/a", "a") as f:
        f.write("more\n")
    shutil.rmtree(r / "usr/share/doc")
    (r / "usr/share/doc").mkdir()
    (r / "usr/share/doc/new").write_text("new\n")
    umoci("repack", "--refresh-bundle", "--image", "L:t2", "B", cwd=tmp_path)
    return tmp_path / "L"


def test_umoci_layers_unpack_to_the_tree_umoci_makes(tmp_path, umoci_image):
    umoci("unpack", "--image", "L:t2", "REF", cwd=tmp_path)
    blobs = [layout_blob(umoci_image, l["digest"]) for l in manifest_of(umoci_image, "t2")["layers"]]
    assert any(".wh.gone" in n for n in tarfile.open(blobs[-1]).getnames())
    layers = unpack_image(umoci_image, "t2", tmp_path / "mine")
    assert stat.S_ISCHR((layers[0] / "etc/gone").lstat().st_mode)
    upper, work, target = dirs(tmp_path, "upper", "work", "merged")
    with mounted(layers, upper, work, target) as merged:
        got = snapshot(merged, dir_mtimes=False)
    want = snapshot(tmp_path / "REF/rootfs", dir_mtimes=False)
    assert same_tree(got, want)
    assert "etc/gone" not in got and "usr/share/doc/old" not in got and "usr/share/doc/new" in got


def test_umoci_accepts_a_layer_packed_by_minidocker(tmp_path, umoci_image):
    layers = unpack_image(umoci_image, "t2", tmp_path / "mine")
    upper, work, target = dirs(tmp_path, "upper", "work", "merged")
    with ExitStack() as stack:
        merged = stack.enter_context(mounted(layers, upper, work, target))
        (merged / "etc/a").unlink()                                   # whiteout
        shutil.rmtree(merged / "usr/share/doc")                       # opaque directory
        (merged / "usr/share/doc").mkdir()
        (merged / "usr/share/doc/mine").write_text("mine\n")
        os.chmod(merged / "bin/tool", 0o755)                          # copy-up of metadata
        (merged / "srv/data").mkdir(parents=True)
        (merged / "srv/data/file").write_bytes(os.urandom(10_000))
        os.chown(merged / "srv/data/file", 33, 33)
        os.setxattr(merged / "srv/data/file", "user.origin", b"minidocker")
        os.link(merged / "srv/data/file", merged / "srv/data/again")
        os.symlink("data/file", merged / "srv/link")
        want = snapshot(merged, dir_mtimes=False)
    assert os.getxattr(upper / "usr/share/doc", "trusted.overlay.opaque") == b"y"
    buf = io.BytesIO()
    digests = pack_layer(upper, buf)
    append_layer(umoci_image, "t2", "t3", buf.getvalue(), digests)   # umoci checks its digest, size and diff id
    umoci("unpack", "--image", "L:t3", "OUT", cwd=tmp_path)
    assert same_tree(snapshot(tmp_path / "OUT/rootfs", dir_mtimes=False), want)
    # the uncompressed layer through umoci's own command, too
    raw = io.BytesIO()
    pack_layer(upper, raw, gzip=False)
    (tmp_path / "layer.tar").write_bytes(raw.getvalue())
    umoci("raw", "add-layer", "--image", "L:t2", "--tag", "t4", "layer.tar", cwd=tmp_path)
    umoci("unpack", "--image", "L:t4", "OUT4", cwd=tmp_path)
    assert same_tree(snapshot(tmp_path / "OUT4/rootfs", dir_mtimes=False), want)


def test_a_refused_layer_stops_the_inflating_thread(tmp_path):
    """The unpacker inflates in a thread a few megabytes ahead: a layer refused at its first member,
    with much more behind it, still returns at once and leaves no thread behind."""
    import threading
    threads = threading.active_count()
    blob = tar_of(("/etc/evil", F, b"x"), ("big", F, os.urandom(12 << 20)), compress="gzip")
    with pytest.raises(LayerError, match="absolute path"):
        unpack_layer(io.BytesIO(blob), tmp_path / "dest")
    assert threading.active_count() == threads
    assert os.listdir(tmp_path) == []
