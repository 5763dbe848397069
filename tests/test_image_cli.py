"""The seed's image commands (§5–§10), compared line by line with Docker's documented output."""
import json, os, re, subprocess, sys

import pytest

from image_helpers import rootfs_tar, snapshot
from support import require_root
from minidocker.runtime.state import start_time

HEADER = re.compile(r"^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$")
ROW = re.compile(r"^(\S+) +(\S+) +([0-9a-f]{12}) +((?:\d+|About an?|Less than a) [a-z ]+ ago) +(\d+(?:\.\d+)?[kMG]?B)$")


@pytest.fixture
def images(minidocker, tmp_path):
    """A store with busybox-like images: `tiny:1` (also tagged redis:alpine and redis:7), `other:1`."""
    require_root()
    assert minidocker("import", "-c", 'CMD ["sh"]', rootfs_tar(tmp_path / "a.tar"), "tiny:1").returncode == 0
    assert minidocker("tag", "tiny:1", "redis:alpine").returncode == 0
    assert minidocker("tag", "tiny:1", "redis:7").returncode == 0
    result = minidocker("import", "-c", "LABEL maintainer=me", rootfs_tar(tmp_path / "b.tar", message="other"), "other:1")
    assert result.returncode == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", result.stdout)
    return minidocker


def ids(minidocker, *names):
    return [minidocker("image", "inspect", "-f", "{{.Id}}", n).stdout.strip() for n in names]


def test_image_ls_has_dockers_columns(images):
    out = images("image", "ls").stdout.splitlines()
    assert HEADER.match(out[0]), out[0]
    rows = [ROW.match(line) for line in out[1:]]
    assert all(rows), out
    assert {(r[1], r[2]) for r in rows} == {("tiny", "1"), ("redis", "alpine"), ("redis", "7"), ("other", "1")}
    tiny, other = ids(images, "tiny:1", "other:1")
    assert {r[3] for r in rows if r[1] != "other"} == {tiny[7:19]}  # one ID, several tags (§6)
    assert out[1].startswith("other ")  # the newest image first
    widths = [m.start() for m in re.finditer(r"(?<=   )\S", out[0])]
    assert all(line[w - 1] == " " and line[w] != " " for line in out[1:] for w in widths)  # aligned columns
    plain = ["--format", "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}"]
    assert images("images", *plain).stdout == images("image", "ls", *plain).stdout == images("image", "list", *plain).stdout


def test_image_ls_selects_like_docker(images):
    assert [l.split()[:2] for l in images("image", "ls", "redis").stdout.splitlines()[1:]] == [["redis", "7"], ["redis", "alpine"]]
    assert [l.split()[:2] for l in images("image", "ls", "redis:7").stdout.splitlines()[1:]] == [["redis", "7"]]
    assert images("image", "ls", "red").stdout.splitlines()[1:] == []  # an exact match, not a prefix
    tiny, other = ids(images, "tiny:1", "other:1")
    assert images("image", "ls", "-q").stdout.split() == [other[7:19]] + [tiny[7:19]] * 3
    assert images("image", "ls", "-q", "--no-trunc", "other").stdout == other + "\n"
    assert images("image", "ls", "--format", "{{.ID}}: {{.Repository}}", "other").stdout == f"{other[7:19]}: other\n"
    table = images("image", "ls", "--format", "table {{.Repository}}\\t{{.Tag}}", "-f", "reference=r*").stdout
    assert table == "REPOSITORY   TAG\nredis        7\nredis        alpine\n"
    assert images("image", "ls", "-q", "-f", "label=maintainer=me").stdout == other[7:19] + "\n"
    assert images("image", "ls", "-q", "-f", "label=maintainer").stdout == other[7:19] + "\n"
    assert images("image", "ls", "-q", "-f", "before=other:1").stdout.split() == [tiny[7:19]] * 3
    assert images("image", "ls", "-q", "-f", "since=tiny:1").stdout.split() == [other[7:19]]
    assert images("image", "ls", "-q", "-f", "dangling=true").stdout == ""
    rows = images("image", "ls", "--format", "json", "other").stdout.splitlines()
    assert json.loads(rows[0])["Repository"] == "other"
    digests = images("image", "ls", "--digests", "other").stdout.splitlines()
    assert digests[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert digests[1].split()[2] == "<none>"


def test_image_ls_bad_filters(images):
    for bad, message in [("nope=1", "invalid filter 'nope'"), ("dangling", "bad format of filter")]:
        result = images("image", "ls", "-f", bad)
        assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1


def test_rm_untags_then_deletes_with_dockers_lines(images):
    tiny, = ids(images, "tiny:1")
    assert images("image", "rm", "redis:alpine").stdout == "Untagged: redis:alpine\n"
    assert images("rmi", "redis:7").stdout == "Untagged: redis:7\n"
    layer = images("image", "inspect", "-f", "{{json .RootFS.Layers}}", tiny).stdout
    out = images("image", "rm", tiny[7:10]).stdout.splitlines()  # a short ID: any unique prefix (§8)
    assert out == ["Untagged: tiny:1", f"Deleted: {tiny}", f"Deleted: {json.loads(layer)[0]}"]
    assert images("image", "inspect", tiny).returncode == 1


def test_rm_by_long_id_and_by_digest(images, tmp_path):
    other, = ids(images, "other:1")
    assert images("save", "--format", "oci-archive", "-o", tmp_path / "o.tar", "other:1").returncode == 0
    assert images("rmi", other).stdout.splitlines()[:2] == ["Untagged: other:1", f"Deleted: {other}"]
    assert images("load", "-i", tmp_path / "o.tar").stdout == "Loaded image: other:1\n"
    digest = images("image", "ls", "--digests", "--format", "{{.Digest}}", "other").stdout.strip()
    assert digest.startswith("sha256:")
    assert images("rmi", f"other@{digest}").stdout == f"Untagged: other@{digest}\n"
    out = images("rmi", "other:1").stdout.splitlines()
    assert out[:2] == ["Untagged: other:1", f"Deleted: {other}"]


def test_rm_batch_like_the_seed(images):
    quiet = images("image", "ls", "-q", "redis").stdout.split()
    result = images("image", "rm", *quiet)  # docker image rm $(docker image ls -q redis)
    assert result.returncode == 1  # the image still has a name in another repository: must be forced
    assert "conflict: unable to delete" in result.stderr and "must be forced" in result.stderr
    assert images("image", "rm", "-f", *quiet[:1]).stdout.splitlines()[0].startswith("Untagged: ")
    assert images("image", "ls", "-q", "redis").stdout == ""


def test_rm_errors_are_one_line_and_change_nothing(images, tmp_path):
    state = tmp_path / "state"
    before = snapshot(state)
    tiny, other = ids(images, "tiny:1", "other:1")
    common = next(i for i in range(1, 12) if tiny[7:7 + i] != other[7:7 + i]) - 1
    cases = [("nosuch", "No such image: nosuch:latest"), ("NoSuch", "must be lowercase"),
             ("a" * 64, "No such image"), ("sha256:" + "0" * 64, "No such image")]
    if common:
        cases.append((tiny[7:7 + common], "ambiguous"))
    for name, message in cases:
        result = images("image", "rm", name)
        assert result.returncode == 1 and message in result.stderr, (name, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert snapshot(state) == before


def test_rm_refuses_while_a_container_uses_the_image(images, tmp_path):
    """The containers chapter writes state_root()/containers/<id>/config.json; rm asks it."""
    other, = ids(images, "other:1")
    container = tmp_path / "state/containers/0123456789abcdef"
    container.mkdir(parents=True)
    (container / "config.json").write_text(json.dumps({"ID": container.name, "Image": other, "State": {"Running": False}}))
    result = images("rmi", "other:1")
    assert result.returncode == 1 and result.stderr == (
        'minidocker: conflict: unable to remove repository reference "other:1" (must force) - '
        f"container 0123456789ab is using its referenced image {other[7:19]}\n")
    result = images("rmi", other[7:19])
    assert "(must be forced) - image is being used by stopped container 0123456789ab" in result.stderr
    assert "Images          2         1" in images("system", "df").stdout
    owner = {"Pid": os.getpid(), "StartTime": start_time(os.getpid())}      # alive: this test runs it
    (container / "config.json").write_text(json.dumps({"Image": other, "State": {"Running": True, "Owner": owner}}))
    result = images("rmi", "-f", other[7:19])
    assert "(cannot be forced) - image is being used by running container 0123456789ab" in result.stderr
    owner["StartTime"] += 1                  # the same pid, another process: its runner is gone
    (container / "config.json").write_text(json.dumps({"Image": other, "State": {"Running": True, "Owner": owner}}))
    result = images("rmi", "-f", other[7:19])
    assert result.returncode == 0 and f"Deleted: {other}" in result.stdout, result.stderr


def test_tag_inspect_history(images):
    assert images("tag", "tiny:1", "localhost:5000/ns/tiny:2").returncode == 0
    doc = json.loads(images("image", "inspect", "localhost:5000/ns/tiny:2").stdout)
    assert isinstance(doc, list) and sorted(doc[0]["RepoTags"]) == ["localhost:5000/ns/tiny:2", "redis:7", "redis:alpine", "tiny:1"]
    assert doc[0]["Config"]["Cmd"] == ["sh"] and doc[0]["Id"].startswith("sha256:") and doc[0]["RootFS"]["Type"] == "layers"
    assert images("image", "inspect", "-f", "{{.Config.Cmd}} {{.Os}}", "tiny:1").stdout == "[sh] linux\n"
    bad = images("tag", "tiny:1", "Bad:Name")
    assert bad.returncode == 1 and "must be lowercase" in bad.stderr
    hist = images("history", "tiny:1").stdout.splitlines()
    assert re.match(r"^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$", hist[0])
    assert re.match(r"^[0-9a-f]{12} +\S+ .*ago +\d+(\.\d+)?[kM]?B +Imported from ", hist[1])


def test_system_df_counts_shared_layers_once(images, tmp_path):
    out = images("system", "df").stdout.splitlines()
    assert out[0] == "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    assert re.match(r"^Images          2         0         \S+B +\S+B \(100%\)$", out[1]), out[1]
    assert out[2:] == ["Containers      0         0         0B        0B",
                       "Local Volumes   0         0         0B        0B",
                       "Build Cache     0         0         0B        0B"]
    verbose = images("system", "df", "-v").stdout
    assert verbose.startswith("Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED")
    assert "SHARED SIZE   UNIQUE SIZE   CONTAINERS" in verbose and "Build cache usage: 0B" in verbose


def test_prune_removes_dangling_images(images):
    tiny, = ids(images, "tiny:1")
    assert images("image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    for name in ("tiny:1", "redis:7", "redis:alpine"):
        images("rmi", "--no-prune", name) if False else None
    assert images("image", "prune", "-a", "-f").stdout.startswith("Deleted Images:\nuntagged: ")
    assert images("image", "ls", "-q").stdout == ""


def test_import_load_save_errors_are_one_line(images, tmp_path):
    state = tmp_path / "state"
    before = snapshot(state)
    (tmp_path / "junk.tar").write_bytes(b"this is not a tar archive" * 100)
    good = tmp_path / "good.tar"
    assert images("save", "-o", good, "tiny:1").returncode == 0
    (tmp_path / "half.tar").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for args in (["load", "-i", tmp_path / "junk.tar"], ["load", "-i", tmp_path / "half.tar"],
                 ["load", "-i", tmp_path / "nothere.tar"], ["import", tmp_path / "junk.tar", "junk:1"],
                 ["import", "-c", "FROB x", tmp_path / "junk.tar"], ["save", "-o", tmp_path / "x.tar", "nosuch"]):
        result = images(*args)
        assert result.returncode == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith("minidocker: "), (args, result.stderr)
    assert snapshot(state) == before
    assert not (tmp_path / "x.tar").exists()


def test_exit_statuses_are_the_docker_clis(images):
    """A flag error is 125 for every verb (cobra's FlagErrorFunc); any other failure of an image
    verb is 1 — only run/create/start report 125/126/127."""
    assert images("image", "ls", "--bogus").returncode == 125
    assert images("history", "--human=yes", "tiny:1").returncode == 125
    for args in (["rmi", "nosuch:1"], ["image", "inspect", "nosuch:1"], ["tag", "nosuch:1", "x:1"],
                 ["load", "-i", "/nonexistent.tar"], ["rm", "nosuch"]):
        result = images(*args)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, (args, result.stderr)


def test_image_ls_digest_column_follows_the_format(images, tmp_path):
    """Docker's needDigest: a --format naming {{.Digest}} shows digests without --digests; a table
    format with --digests gains the column; -q yields to --format; json rows are Go maps (sorted keys)."""
    other, = ids(images, "other:1")
    assert images("save", "--format", "oci-archive", "-o", tmp_path / "o.tar", "other:1").returncode == 0
    assert images("rmi", "other:1").returncode == 0
    assert images("load", "-i", tmp_path / "o.tar").returncode == 0          # other:1 and other@sha256:…
    shown = images("image", "ls", "--format", "{{.Repository}}@{{.Digest}}", "other").stdout
    assert re.fullmatch(r"other@sha256:[0-9a-f]{64}\n", shown), shown
    table = images("image", "ls", "--digests", "--format", "table {{.Repository}}\\t{{.Tag}}", "other").stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "DIGEST"] and table[1].split()[2].startswith("sha256:")
    assert images("image", "ls", "-q", "--format", "{{.Repository}}", "other").stdout == "other\n"
    row = images("image", "ls", "--format", "{{json .}}", "other").stdout
    assert list(json.loads(row)) == sorted(json.loads(row)) and json.loads(row)["ID"] == other[7:19]
    same = json.loads(images("image", "ls", "--format", "json", "other").stdout)
    assert {**same, "CreatedSince": ""} == {**json.loads(row), "CreatedSince": ""}


def test_save_piped_into_load_on_one_store(images):
    """`minidocker save IMAGE | minidocker load`: the loader reads its input before it locks the store."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    line = images("image", "ls", "--format", "{{.ID}}", "other").stdout
    state = images("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "other:1").stdout.split("/image/")[0]
    env.update(MINIDOCKER_ROOT=state)
    cli = f"{sys.executable} -m minidocker"
    result = subprocess.run(f"{cli} save other:1 | {cli} load", shell=True, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "Loaded image: other:1\n", result.stderr
    assert images("image", "ls", "--format", "{{.ID}}", "other").stdout == line


def test_templates_with_blocks_on_the_command_line(images):
    """`docker inspect -f '{{range .RepoTags}}…{{end}}'` and `image ls --format '{{if …}}'`; a bad
    template is one line and exit 1."""
    tags = images("image", "inspect", "-f", "{{range .RepoTags}}{{.}} {{end}}|{{len .RootFS.Layers}}", "tiny:1").stdout
    assert sorted(tags.split("|")[0].split()) == ["redis:7", "redis:alpine", "tiny:1"] and tags.endswith("|1\n")
    label = images("image", "inspect", "-f", '{{index .Config.Labels "maintainer"}}', "other:1").stdout
    assert label == "me\n"
    shown = images("image", "ls", "--format", '{{if eq .Repository "redis"}}{{.Tag}}{{end}}', "redis").stdout
    assert sorted(shown.split()) == ["7", "alpine"]
    for bad in ("{{.ID", "{{if .ID}}", "{{.Nope}}"):
        result = images("image", "ls", "--format", bad)
        assert result.returncode == 1 and result.stderr.count("\n") == 1 and "template parsing error" in result.stderr, result.stderr


def test_inspect_shows_what_it_found_before_the_errors(images):
    """The docker CLI's inspect: each found image is printed, each missing name is an error line, exit 1."""
    other, = ids(images, "other:1")
    result = images("image", "inspect", "-f", "{{.Id}}", "other:1", "nosuch", "gone:2")
    assert result.returncode == 1 and result.stdout == other + "\n"
    assert result.stderr == "minidocker: No such image: nosuch:latest\nminidocker: No such image: gone:2\n"
    result = images("image", "inspect", "nosuch")
    assert result.returncode == 1 and result.stdout == "[]\n"
    assert [o["Id"] for o in json.loads(images("image", "inspect", "--format", "json", "other:1").stdout)] == [other]
