"""`system prune`: what nothing uses goes (a stopped container, an unused network, a dangling
image, an anonymous volume no container names), what a running container uses stays, and
answering "n" removes nothing. The CLI runs in a network namespace the test makes, so that the
networks' bridges and rules never touch the host."""
import re
import subprocess
from pathlib import Path

from lifecycle_support import ok
from support import require


def test_system_prune_removes_only_the_unused(docker, busybox_rootfs, tmp_path):
    require(Path("/usr/lib/x86_64-linux-gnu/libnftables.so.1").exists(), "libnftables (Debian package nftables) is missing")
    from minidocker.network import links
    netns = tmp_path / "lab-netns"
    links.create_netns(netns)

    def cli(*args, input=None):
        return subprocess.run(["nsenter", f"--net={netns}", *docker.argv(*args)], env=docker.env, input=input,
                              capture_output=True, text=True, timeout=120)

    def state():
        return {kind: ok(cli(*args)).split() for kind, args in
                {"containers": ("ps", "-aq", "--no-trunc"), "networks": ("network", "ls", "--format", "{{.Name}}"),
                 "volumes": ("volume", "ls", "-q"), "images": ("images", "-aq", "--no-trunc")}.items()}
    try:
        ok(cli("network", "create", "app"))
        ok(cli("network", "create", "spare"))
        ok(cli("run", "-d", "--name", "busy", "--network", "app", "busybox:vol", "sleep", "100"))
        stopped = ok(cli("create", "--name", "stopped", "-v", "/scratch", "busybox", "true")).strip()
        dangling = ok(cli("import", busybox_rootfs)).strip()            # no tag: a dangling image
        before = state()
        assert len(before["volumes"]) == 2 and stopped in before["containers"] and dangling in before["images"]

        refused = cli("system", "prune", "--volumes", input="n\n")
        assert refused.returncode == 0 and refused.stdout == (
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n"
            "  - all anonymous volumes not used by at least one container\n  - all dangling images\n"
            "  - unused build cache\n\nAre you sure you want to continue? [y/N] ")
        assert state() == before, "answering n removed something"

        pruned = ok(cli("system", "prune", "-f", "--volumes"))
        after = state()
        assert after["containers"] == [c for c in before["containers"] if c != stopped]
        assert after["networks"] == [n for n in before["networks"] if n != "spare"] and "app" in after["networks"]
        busy_volume = ok(cli("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "busy")).strip()
        assert after["volumes"] == [busy_volume]
        assert dangling not in after["images"] and len(after["images"]) == len(before["images"]) - 1
        assert ok(cli("inspect", "-f", "{{.State.Running}}", "busy")).strip() == "true"
        scratch = (set(before["volumes"]) - {busy_volume}).pop()
        assert pruned.startswith(f"Deleted Containers:\n{stopped}\n\nDeleted Networks:\nspare\n\n"
                                 f"Deleted Volumes:\n{scratch}\n\nDeleted Images:\ndeleted: {dangling}\n"), pruned
        assert re.search(r"\n\nTotal reclaimed space: \d+(\.\d+)?[kMGT]?B\n$", pruned), pruned

        everything = cli("system", "prune", "-a", input="y\n")       # -a: every image no container uses
        assert "  - all images without at least one container associated to them\n" in everything.stdout
        assert "untagged: busybox:latest\n" in everything.stdout and "busybox:vol" not in everything.stdout
        assert ok(cli("images", "--format", "{{.Repository}}:{{.Tag}}")) == "busybox:vol\n"
        assert cli("system", "prune", "-f", "--filter", "until=1h").returncode == 1
    finally:
        cli("rm", "-f", "-v", "busy")
        cli("network", "prune", "-f")
        links.remove_netns(netns)
