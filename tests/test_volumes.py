"""Volumes and bind mounts: data that bypasses the container layer and outlives the container."""
import json, os

from lifecycle_support import inspect, ok


def run(docker, *args):
    """create + start -a: a container's output and exit status."""
    cid = ok(docker("create", *args)).strip()
    result = docker("start", "-a", cid)
    return cid, result


def test_a_volume_outlives_its_container(docker, tmp_path):
    cid, result = run(docker, "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/file; echo lost > /file")
    assert result.returncode == 0, result.stderr
    upper = tmp_path / "state/containers" / cid / "upper"
    assert (upper / "file").exists() and not (upper / "data/file").exists()   # bypasses the container layer
    assert ok(docker("rm", cid)).strip() == cid and not upper.exists()
    assert (tmp_path / "state/volumes/data/_data/file").read_text() == "kept\n"
    _, result = run(docker, "-v", "data:/data", "busybox", "cat", "/data/file")
    assert result.stdout == "kept\n"
    assert ok(docker("volume", "ls")).splitlines() == ["DRIVER    VOLUME NAME", "local     data"]
    volume = json.loads(ok(docker("volume", "inspect", "data")))[0]
    assert volume["Mountpoint"] == str(tmp_path / "state/volumes/data/_data") and volume["Driver"] == "local"


def test_two_containers_share_a_volume(docker):
    ok(docker("create", "--name", "writer", "--mount", "type=volume,source=shared,target=/shared", "busybox", "sh", "-c",
              "echo from-writer > /shared/note; sleep 100"))
    ok(docker("start", "writer"))
    ok(docker("create", "--name", "reader", "-v", "shared:/in:ro", "busybox", "sleep", "100"))
    ok(docker("start", "reader"))
    assert ok(docker("exec", "reader", "cat", "/in/note")) == "from-writer\n"
    refused = docker("exec", "reader", "touch", "/in/x")
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    using = docker("volume", "rm", "shared")
    assert using.returncode == 1 and "remove shared: volume is in use - [" in using.stderr
    mounts = inspect(docker, "reader", "{{json .Mounts}}")
    assert mounts[0]["Name"] == "shared" and mounts[0]["RW"] is False and mounts[0]["Destination"] == "/in"
    ok(docker("stop", "-t", "0", "writer", "reader"))


def test_an_empty_volume_is_seeded_from_the_image(docker, tmp_path):
    _, result = run(docker, "-v", "etc:/etc", "busybox", "cat", "/etc/passwd")
    assert result.returncode == 0 and "root:" in result.stdout
    assert (tmp_path / "state/volumes/etc/_data/passwd").exists()
    (tmp_path / "state/volumes/etc/_data/passwd").write_text("mine\n")
    _, result = run(docker, "-v", "etc:/etc", "busybox", "cat", "/etc/passwd")
    assert result.stdout == "mine\n"                                     # not empty: not seeded again


def test_a_symlinked_mount_point_is_seeded_from_inside_the_root(docker, rootfs, tmp_path):
    os.symlink("/etc", rootfs / "escape")          # inside the root: the container's /etc, not the host's
    ok(docker("import", "-c", 'CMD ["sh"]', rootfs, "evil:latest"))
    ok(docker("create", "-v", "trap:/escape", "evil", "true"))
    seeded = tmp_path / "state/volumes/trap/_data"
    assert (seeded / "passwd").exists() and not (seeded / "debian_version").exists()


def test_anonymous_volumes_from_the_image_go_with_rm_v(docker, tmp_path):
    cid, result = run(docker, "busybox:vol", "sh", "-c", "echo x > /data/x")
    assert result.returncode == 0
    [mount] = inspect(docker, cid, "{{json .Mounts}}")
    assert mount["Type"] == "volume" and len(mount["Name"]) == 64 and mount["Destination"] == "/data"
    assert ok(docker("volume", "ls", "-q")) == mount["Name"] + "\n"
    docker.engine(f"lifecycle.remove({cid!r}, volumes=True)")              # rm -v
    assert ok(docker("volume", "ls", "-q")) == ""


def test_bind_mounts(docker, tmp_path):
    made = tmp_path / "made/by/v"
    _, result = run(docker, "-v", f"{made}:/m", "busybox", "sh", "-c", "echo hi > /m/f")
    assert result.returncode == 0 and (made / "f").read_text() == "hi\n"          # -v creates a missing path
    refused = docker("create", "--mount", f"type=bind,source={tmp_path}/nope,target=/m", "busybox", "true")
    assert refused.returncode == 125
    assert f'invalid mount config for type "bind": bind source path does not exist: {tmp_path}/nope' in refused.stderr
    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_text("ro\n")
    _, result = run(docker, "--mount", f"type=bind,src={host},dst=/h,readonly", "busybox", "sh", "-c", "cat /h/f; touch /h/g")
    assert result.stdout == "ro\n" and result.returncode == 1 and not (host / "g").exists()
    _, result = run(docker, "-v", f"{host / 'f'}:/etc/motd:ro", "busybox", "cat", "/etc/motd")   # a file, with -v
    assert (result.returncode, result.stdout) == (0, "ro\n")


def test_bad_specs_leave_nothing(docker, tmp_path):
    for args, message in ((("-v", "a:b"), "invalid volume specification: 'a:b'"),
                          (("-v", "bad name!:/x"), "includes invalid characters for a local volume name"),
                          (("--mount", "type=volume,target"), "invalid field 'target' must be a key=value pair"),
                          (("--mount", "type=nfs,target=/x"), "invalid type 'nfs'"),
                          (("--mount", "source=v"), "field Target must not be empty"),
                          (("-v", "/x:relative"), "mount path must be absolute"),
                          (("-v", "/tmp:/a", "--mount", "type=volume,dst=/a"), "Duplicate mount point: /a")):
        result = docker("create", *args, "busybox", "true")
        assert result.returncode == 125 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1
    assert ok(docker("ps", "-aq")) == "" and ok(docker("volume", "ls", "-q")) == ""


def test_volume_commands(docker):
    assert ok(docker("volume", "create", "one")) == "one\n"
    assert ok(docker("volume", "create", "one")) == "one\n"               # exists: the same volume
    anonymous = ok(docker("volume", "create")).strip()
    assert len(anonymous) == 64
    missing = docker("volume", "inspect", "nope")
    assert (missing.returncode, missing.stderr) == (1, "minidocker: No such volume: nope\n")
    missing = docker("volume", "rm", "nope")
    assert (missing.returncode, missing.stderr) == (1, "minidocker: get nope: no such volume\n")
    pruned = ok(docker("volume", "prune", "-f"))
    assert pruned == f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 0B\n"
    assert ok(docker("volume", "rm", "one")) == "one\n" and ok(docker("volume", "ls", "-q")) == ""
    assert ok(docker("volume", "create", "--name", "flagged", "--label", "team=a")) == "flagged\n"   # the old spelling
    ok(docker("volume", "create", "plain"))
    assert ok(docker("volume", "ls", "--format", "{{.Name}}:{{.Driver}}")) == "flagged:local\nplain:local\n"
    assert ok(docker("volume", "ls", "-q", "-f", "label=team=a")) == "flagged\n"
    assert ok(docker("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "plain")) == "plain local\n"
    refused = docker("volume", "ls", "-f", "colour=red")
    assert (refused.returncode, refused.stderr) == (1, "minidocker: invalid filter 'colour'\n")
    ok(docker("volume", "rm", "flagged", "plain"))


def test_system_df_counts_local_volumes(docker):
    ok(docker("volume", "create", "idle"))
    ok(docker("run", "--name", "writer", "-v", "used:/v", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /v/f"))
    rows = {line[:16].strip(): line[16:].split() for line in ok(docker("system", "df")).splitlines()[1:]}
    assert rows["Local Volumes"][:3] == ["2", "1", "5kB"]           # TOTAL, ACTIVE (named by a container), SIZE
    assert rows["Local Volumes"][3] == "0B" and rows["Build Cache"] == ["0", "0", "0B", "0B"]
    verbose = ok(docker("system", "df", "-v"))
    section = verbose.split("Local Volumes space usage:\n\n")[1].split("\n\n")[0].splitlines()
    assert section[0].split() == ["VOLUME", "NAME", "LINKS", "SIZE"]
    assert sorted(line.split() for line in section[1:]) == [["idle", "0", "0B"], ["used", "1", "5kB"]]
    assert "   1   " in verbose.split("Containers space usage:")[1].split("\n\n")[1]   # writer's LOCAL VOLUMES
