"""Docker's `image prune --filter`, `image history -H/--human`, and `system df` counting real
containers (chapter 6's records and their writable layers)."""
import datetime, json, os, re, select, subprocess, sys, time

import pytest

from image_helpers import rootfs_tar
from support import require_root

from minidocker.image.format import human_size
from minidocker.storage.layers import dir_size


@pytest.fixture
def labelled(minidocker, tmp_path):
    """Three unused images: `keep:1` (keep=yes), `web:1` (tier=web), `plain:1` (no label)."""
    require_root()
    for name, change in (("keep:1", "LABEL keep=yes"), ("web:1", "LABEL tier=web"), ("plain:1", "ENV A=1")):
        tar = rootfs_tar(tmp_path / f"{name[:-2]}.tar", message=name)
        assert minidocker("import", "-c", change, tar, name).returncode == 0
    return minidocker


def names(minidocker):
    return sorted(minidocker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split())


def test_prune_until_duration_spares_newer_images(labelled):
    out = labelled("image", "prune", "-a", "-f", "--filter", "until=10m")
    assert (out.returncode, out.stdout) == (0, "Total reclaimed space: 0B\n")
    out = labelled("image", "prune", "-a", "-f", "--filter", "until=1h30m")
    assert out.stdout == "Total reclaimed space: 0B\n" and names(labelled) == ["keep:1", "plain:1", "web:1"]
    time.sleep(1.1)                        # Docker counts a duration in whole seconds
    out = labelled("image", "prune", "-a", "-f", "--filter", "until=0s")    # before now: all three
    assert out.stdout.startswith("Deleted Images:\nuntagged: ") and names(labelled) == []


def test_prune_until_timestamp_and_date(minidocker, tmp_path):
    require_root()
    assert minidocker("import", rootfs_tar(tmp_path / "a.tar", message="old"), "old:1").returncode == 0
    time.sleep(1.1)
    between = time.time()
    time.sleep(1.1)
    assert minidocker("import", rootfs_tar(tmp_path / "b.tar", message="new"), "new:1").returncode == 0
    assert minidocker("image", "prune", "-a", "-f", "--filter", "until=2000-01-01").stdout == "Total reclaimed space: 0B\n"
    rfc3339 = datetime.datetime.fromtimestamp(between, datetime.timezone.utc).isoformat()   # has "+00:00"
    out = minidocker("image", "prune", "-a", "-f", "--filter", f"until={rfc3339}")
    assert "untagged: old:1" in out.stdout and names(minidocker) == ["new:1"]
    assert minidocker("import", rootfs_tar(tmp_path / "a.tar", message="old"), "old:1").returncode == 0
    out = minidocker("image", "prune", "-a", "-f", "--filter", f"until={between:.3f}")   # a unix timestamp
    assert out.stdout == "Total reclaimed space: 0B\n", "old:1 was imported again, after the moment"
    out = minidocker("image", "prune", "-a", "-f", "--filter", f"until={int(time.time()) + 60}")
    assert "untagged: old:1" in out.stdout and "untagged: new:1" in out.stdout and names(minidocker) == []


def test_prune_until_applies_to_dangling_images(minidocker, tmp_path):
    require_root()
    image_id = minidocker("import", rootfs_tar(tmp_path / "a.tar")).stdout.strip()   # no name: dangling
    assert minidocker("image", "prune", "-f", "--filter", "until=24h").stdout == "Total reclaimed space: 0B\n"
    time.sleep(1.1)
    out = minidocker("image", "prune", "-f", "--filter", "until=0s")
    assert out.stdout.startswith(f"Deleted Images:\ndeleted: {image_id}\n")
    assert minidocker("image", "ls", "-a", "-q").stdout == ""


def test_prune_label_filters(labelled):
    out = labelled("image", "prune", "-a", "-f", "--filter", "label=tier=web")
    assert out.stdout.startswith("Deleted Images:\nuntagged: web:1\n") and names(labelled) == ["keep:1", "plain:1"]
    out = labelled("image", "prune", "-a", "-f", "--filter", "label!=keep=no")       # keep=yes is not keep=no
    assert names(labelled) == [] and "untagged: keep:1" in out.stdout


def test_prune_label_not_spares_matching_images(labelled):
    time.sleep(1.1)
    labelled("image", "prune", "-a", "-f", "--filter", "label!=keep", "--filter", "until=0s")
    assert names(labelled) == ["keep:1"]


def test_prune_bad_filters_change_nothing(labelled):
    for value, message in (("until=yesterday", 'failed to parse value as time or duration: "yesterday"'),
                           ("until=2026-13-01", 'parsing time "2026-13-01"'),
                           ("since=keep:1", "invalid filter 'since'"),
                           ("until", "bad format of filter (expected name=value): until")):
        out = labelled("image", "prune", "-a", "-f", "--filter", value)
        assert out.returncode == 1 and message in out.stderr and out.stderr.count("\n") == 1, (value, out.stderr)
    out = labelled("image", "prune", "-a", "-f", "--filter", "until=1h", "--filter", "until=0s")
    assert (out.returncode, out.stderr) == (1, "minidocker: more than one until filter specified\n")
    assert names(labelled) == ["keep:1", "plain:1", "web:1"]


def test_history_human_and_exact(labelled):
    image_id = labelled("image", "inspect", "-f", "{{.Id}}", "web:1").stdout.strip()
    size = json.loads(labelled("image", "inspect", "web:1").stdout)[0]["Size"]
    human = labelled("history", "web:1").stdout.splitlines()
    assert re.match(r"^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$", human[0])
    assert re.match(rf"^{image_id[7:19]} +(\d+ seconds?|Less than a second) ago +{re.escape(human_size(size, 3))} +Imported", human[1])
    for flag in ("--human=true", "-H", "--human", "-H=1"):
        assert labelled("image", "history", flag, "web:1").stdout.split("\n")[0].split() == human[0].split(), flag
    rfc3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"
    for flag in ("--human=false", "-H=false", "--human=0", "-H=F"):
        exact = labelled("history", flag, "web:1").stdout.splitlines()
        assert re.match(r"^IMAGE +CREATED AT +CREATED BY +SIZE +COMMENT$", exact[0]), flag
        assert re.match(rf"^{image_id[7:19]} +{rfc3339} +{size} +Imported from ", exact[1]), (flag, exact[1])
    out = labelled("history", "--human=false", "--format", "{{.CreatedSince}}|{{.Size}}", "web:1").stdout
    assert re.fullmatch(rf"{rfc3339}\|{size}\n", out)
    out = labelled("history", "--format", "{{.CreatedAt}}|{{.Size}}", "web:1").stdout    # CreatedAt: RFC 3339 always
    assert re.fullmatch(rf"{rfc3339}\|{re.escape(human_size(size, 3))}\n", out)
    bad = labelled("history", "--human=yes", "web:1")
    assert bad.returncode == 125 and bad.stderr.startswith("minidocker: ") and bad.stdout == ""


def test_history_quiet_no_trunc_format(labelled):
    image_id = labelled("image", "inspect", "-f", "{{.Id}}", "web:1").stdout.strip()
    assert labelled("history", "-q", "web:1").stdout == image_id[7:19] + "\n"
    assert labelled("history", "-q", "--no-trunc", "web:1").stdout == image_id + "\n"
    assert labelled("history", "-q", "--format", "table", "web:1").stdout == image_id[7:19] + "\n"
    assert labelled("history", "-q", "--format", "{{.Comment}}", "web:1").stdout.startswith("Imported from ")
    wide = labelled("history", "--no-trunc", "web:1").stdout.splitlines()
    assert wide[1].startswith(image_id + " ")
    row = json.loads(labelled("history", "--format", "json", "--human=false", "web:1").stdout)
    assert row["ID"] == image_id[7:19] and row["Size"].isdigit() and row["CreatedSince"] == row["CreatedAt"]


# --- system df with chapter 6's containers ---

@pytest.fixture
def engine(minidocker, busybox_rootfs):
    require_root()
    assert minidocker("import", "-c", 'CMD ["sh"]', busybox_rootfs, "busybox:latest").returncode == 0
    return minidocker


def df_rows(minidocker, *args):
    return {line[:16].strip(): line[16:].split(None, 3) for line in minidocker("system", "df", *args).stdout.splitlines()[1:]}


def records(tmp_path):
    found = [json.loads(p.read_text()) for p in (tmp_path / "state/containers").glob("*/config.json")]
    return {r["Name"].lstrip("/"): r for r in found}


def upper_size(tmp_path, record):
    return dir_size(tmp_path / "state/containers" / record["ID"] / "upper", apparent=True)


def test_df_counts_containers_and_their_writable_layers(engine, tmp_path):
    assert df_rows(engine)["Containers"] == ["0", "0", "0B", "0B"]
    result = engine("run", "--name", "writer", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /f")
    assert result.returncode == 0, result.stderr
    size = upper_size(tmp_path, records(tmp_path)["writer"])
    assert size >= 100000
    rows = df_rows(engine)
    assert rows["Containers"] == ["1", "0", human_size(size), f"{human_size(size)} (100%)"]
    assert rows["Images"][:2] == ["1", "1"] and rows["Images"][3] == "0B (0%)"   # in use: nothing to reclaim
    verbose = engine("system", "df", "-v").stdout
    table = verbose.split("Containers space usage:\n\n")[1].split("\n\n")[0].splitlines()
    assert re.match(r"^CONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES$", table[0])
    record = records(tmp_path)["writer"]
    assert re.match(rf'^{record["ID"][:12]} +busybox +"sh -c \'head -c 1000…" +0 +{re.escape(human_size(size, 3))} +'
                    r"(\d+ seconds?|Less than a second) ago +Exited \(0\) .* ago +writer$", table[1]), table[1]
    assert len(table) == 2
    assert engine("rm", "writer").returncode == 0
    assert df_rows(engine)["Containers"] == ["0", "0", "0B", "0B"]
    assert df_rows(engine)["Images"][:2] == ["1", "0"]


def test_df_active_counts_a_running_container(engine, tmp_path):
    engine("run", "--name", "done", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /f")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))
    live = subprocess.Popen([sys.executable, "-m", "minidocker", "run", "-i", "--name", "live", "busybox", "sh", "-c",
                             "head -c 300000 /dev/zero > /g; echo ready; read x"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert select.select([live.stdout], [], [], 60)[0], "the container never got ready"
        assert live.stdout.readline() == "ready\n"
        done, running = (upper_size(tmp_path, records(tmp_path)[n]) for n in ("done", "live"))
        total = done + running
        assert df_rows(engine)["Containers"] == ["2", "1", human_size(total), f"{human_size(done)} ({done * 100 // total}%)"]
        verbose = engine("system", "df", "-v").stdout
        assert re.search(r" live\n", verbose) and re.search(r" Up (\d+ seconds?|Less than a second) +live\n", verbose)
        assert df_rows(engine)["Images"][:2] == ["1", "1"]
    finally:
        _, errors = live.communicate("go\n", timeout=60)      # `read x` returns: the container exits
    assert live.returncode == 0, errors
    assert df_rows(engine)["Containers"] == ["2", "0", human_size(total), f"{human_size(total)} (100%)"]
    assert engine("rm", "done", "live").returncode == 0


def test_df_with_a_hand_written_hook_record(engine, tmp_path):
    """The image chapter's hook: a record with only ID, Image and State.Running still counts."""
    image_id = engine("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    record = tmp_path / "state/containers/14acce5f0a73deadbeef"
    record.mkdir(parents=True)
    (record / "config.json").write_text(json.dumps({"ID": record.name, "Image": image_id, "State": {"Running": False}}))
    assert df_rows(engine)["Containers"] == ["1", "0", "0B", "0B"]
    assert df_rows(engine)["Images"][:2] == ["1", "1"]
    verbose = engine("system", "df", "-v")
    assert verbose.returncode == 0 and re.search(rf"\n14acce5f0a73 +{image_id[7:19]} +\"\" +0 +0B +Created +\n", verbose.stdout)


def test_df_verbose_lists_each_image_once_and_takes_a_format(engine):
    """Docker's verbose df: each image once, under its first tag; a --format runs once over
    {Images, Containers, Volumes, BuildCache} (`json` is `{{json .}}`), IDs in full."""
    assert engine("tag", "busybox", "another:tag").returncode == 0
    table = engine("system", "df", "-v").stdout.split("\n\n")[1].splitlines()
    assert len(table) == 2 and table[1].split()[:2] == ["another", "tag"], table
    usage = json.loads(engine("system", "df", "-v", "--format", "json").stdout)
    assert list(usage) == ["Images", "Containers", "Volumes", "BuildCache"]
    [image] = usage["Images"]
    assert image["Repository"] == "another" and image["ID"].startswith("sha256:") and list(image) == sorted(image)
    assert engine("system", "df", "-v", "--format", "{{range .Images}}{{.Tag}}{{end}}").stdout == "tag\n"
