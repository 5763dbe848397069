"""Helpers for the lifecycle and volume tests: the CLI on a private state root holding busybox,
and a clean-up that removes every container (supervisor, mounts, cgroups) whatever happened."""
import json, os, subprocess, sys

import pytest

from support import require_root

CLEANUP = "from minidocker.container import record\nfor r in record.all_records():\n    lifecycle.remove_record(r, volumes=True)"


class Docker:
    """`docker(*args)` runs the CLI and returns its CompletedProcess; `argv` and `env` start it
    some other way (Popen, a pty)."""

    def __init__(self, run, tmp_path):
        self.run = run
        self.env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        self.env.update(MINIDOCKER_ROOT=str(tmp_path / "state"), MINIDOCKER_RUNROOT=str(tmp_path / "run"))

    def __call__(self, *args, **kw):
        return self.run(*args, **kw)

    def engine(self, code: str):
        """Run `code` with minidocker.container.lifecycle imported, on this state root."""
        subprocess.run([sys.executable, "-c", "from minidocker.container import lifecycle\n" + code], env=self.env,
                       check=True, timeout=120)

    def argv(self, *args):
        return [sys.executable, "-m", "minidocker", *map(str, args)]


@pytest.fixture
def docker(minidocker, busybox_rootfs, tmp_path):
    """The CLI on a private state root holding busybox:latest (and `busybox:vol`, with a VOLUME
    and a STOPSIGNAL); every container is removed afterwards, whatever the test did."""
    require_root()
    for args in (("import", "-c", 'CMD ["sh"]', busybox_rootfs, "busybox:latest"),
                 ("import", "-c", 'CMD ["sh"]', "-c", "VOLUME /data", "-c", "STOPSIGNAL SIGUSR1",
                  busybox_rootfs, "busybox:vol")):
        result = minidocker(*args)
        assert result.returncode == 0, result.stderr
    cli = Docker(minidocker, tmp_path)
    yield cli
    cli.engine(CLEANUP)


def inspect(docker, name, template="{{json .State}}"):
    result = docker("inspect", "-f", template, name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if template.startswith("{{json") else result.stdout.strip()


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout
