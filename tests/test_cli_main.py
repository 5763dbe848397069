"""cli.main.quick_parse reads the hot verbs' plain command lines without argparse: whatever it
returns must be what argparse returns, and whatever it cannot read exactly so it leaves to argparse."""
import pytest

from minidocker.cli.main import build_parser, quick_parse
from minidocker.errors import MinidockerError

READ_QUICKLY = [
    ["run", "--rm", "--network", "none", "busybox", "true"],
    ["run", "-it", "--rm", "busybox", "sh"],
    ["run", "-dit", "--name", "web", "-p", "8080:80", "-p80", "-P", "busybox"],
    ["run", "-e", "A=1", "-e", "B", "--env-file", "f", "-v", "/a:/b", "--mount", "type=volume,dst=/x", "busybox", "ls", "-l"],
    ["run", "-m", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--pids-limit", "10", "-h", "host", "busybox"],
    ["run", "--name=web", "--stop-timeout", "5", "--restart", "on-failure:2", "--init", "busybox", "echo", "--rm"],
    ["run", "-u", "0:0", "--group-add", "10", "--cap-add", "ALL", "--cap-drop", "NET_RAW", "--read-only", "busybox"],
    ["run"],
    ["create", "--network", "none", "busybox", "sleep", "100"],
    ["create", "-it", "busybox", "sh"],
    ["start", "c1"], ["start", "-a", "-i", "c1"], ["start", "c1", "c2"],
    ["stop", "-t", "0", "c1"], ["stop", "-t0", "c1"], ["stop", "--time=3", "c1", "c2"], ["stop", "-s", "KILL", "c1"],
    ["rm", "c1"], ["rm", "-fv", "c1", "c2"], ["rm", "--force", "--volumes", "c"],
    ["exec", "c1", "true"], ["exec", "-it", "c1", "sh"], ["exec", "-e", "A=1", "-u", "1000", "-w", "/tmp", "c1", "env"],
    ["exec", "-d", "c1", "sleep", "1", "-x"], ["exec", "c1"],
    ["--root", "/tmp/r", "ps", "-a"], ["--root=/tmp/r", "--runroot", "/tmp/rr", "ps", "-aq"],
]

LEFT_TO_ARGPARSE = [
    ["run", "--help"], ["rm", "--help"], ["run", "--det", "busybox"], ["run", "--rm=1", "busybox"],
    ["run", "--rm", "--", "busybox"], ["run", "--pids-limit", "x", "busybox"], ["run", "--stop-timeout", "-1", "busybox"],
    ["run", "-e"], ["run", "-e=A=1", "busybox"], ["create"], ["start"], ["start", "c1", "-a"], ["stop", "-t", "c1"],
    ["network", "ls"], ["volume", "ls"], ["no-such-verb"], [], ["--root"], ["-x", "ps"],
]


def without_func(values: dict) -> dict:
    return {key: value for key, value in values.items() if key != "func"}


@pytest.mark.parametrize("argv", READ_QUICKLY, ids=" ".join)
def test_quick_parse_is_argparse(argv):
    quick = quick_parse(argv)
    assert quick is not None, f"{argv} should not need argparse"
    slow = build_parser(argv).parse_args(argv)
    assert without_func(vars(quick)) == without_func(vars(slow))
    assert quick.func.__qualname__ == slow.func.__qualname__


@pytest.mark.parametrize("argv", LEFT_TO_ARGPARSE, ids=lambda argv: " ".join(argv) or "(nothing)")
def test_what_it_cannot_read_exactly_is_left_to_argparse(argv):
    assert quick_parse(argv) is None


def test_argparse_still_gives_the_errors():
    with pytest.raises(MinidockerError, match="invalid int value"):
        build_parser(["run"]).parse_args(["run", "--pids-limit", "x", "busybox"])
