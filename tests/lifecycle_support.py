"""Helpers for the lifecycle and volume tests (their `docker` fixture is in conftest.py)."""
import json
import os


def inspect(docker, name, template="{{json .State}}"):
    result = docker("inspect", "-f", template, name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if template.startswith("{{json") else result.stdout.strip()


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


class Terminal:
    """The CLI on a pseudo-terminal of `rows` x `columns`, as a user's shell would run it: `expect`
    reads until a text appears, `resize` changes the window (the kernel sends the CLI SIGWINCH)."""

    def __init__(self, argv, env, rows=24, columns=80):
        import fcntl, pty, struct, termios
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execve(argv[0], argv, env)
        self.seen = b""

    def resize(self, rows, columns):
        import fcntl, struct, termios
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def write(self, data: bytes):
        os.write(self.fd, data)

    def expect(self, text: str, timeout=20.0) -> str:
        import select, time
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never appeared; the terminal showed {self.seen.decode(errors='replace')!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"{text!r} never appeared before the end: {self.seen.decode(errors='replace')!r}"
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def close(self) -> int:
        """Wait for the CLI to end; its exit status."""
        while True:
            try:
                if not os.read(self.fd, 4096):
                    break
            except OSError:
                break
        os.close(self.fd)
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
