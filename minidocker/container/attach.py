"""`attach` and `start -a`: this terminal to the container's stdio, through its supervisor.

Without a terminal the output comes framed (Docker's stdcopy: stream, length, data) so that
stdout and stderr stay apart; with one it is raw, and Ctrl-P Ctrl-Q detaches."""
import os
import select
import socket
import struct
import sys

from minidocker.container import status as _status
from minidocker.container.record import ContainerError

DETACH = b"\x10\x11"                   # Ctrl-P Ctrl-Q


def connect(container_id: str, stdin: bool) -> socket.socket:
    sock = _status.control(container_id, "attach stdin" if stdin else "attach")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            sock.close()
            raise ContainerError("You cannot attach to a stopped container, start it first")
        reply += chunk
    return sock


def unframe(buffer: bytearray):
    """Complete frames out of `buffer`: (fd to write to, data)."""
    while len(buffer) >= 8:
        stream, size = struct.unpack(">BxxxI", buffer[:8])
        if len(buffer) < 8 + size:
            return
        yield (2 if stream == 2 else 1), bytes(buffer[8:8 + size])
        del buffer[:8 + size]


def relay(sock: socket.socket, tty: bool, stdin: bool) -> bool:
    """Copy until the container's output ends (True) or the user detaches (False)."""
    import termios
    import tty as tty_mode
    saved = termios.tcgetattr(0) if tty and stdin and os.isatty(0) else None
    if saved:
        tty_mode.setraw(0, termios.TCSANOW)
    sources, buffer, last = [sock] + ([0] if stdin else []), bytearray(), b""
    try:
        while True:
            for source in select.select(sources, [], [])[0]:
                if source is sock:
                    data = sock.recv(65536)
                    if not data:
                        return True
                    if tty:
                        os.write(1, data)
                    else:
                        buffer += data
                        for fd, chunk in unframe(buffer):
                            os.write(fd, chunk)
                    continue
                data = os.read(0, 65536)
                if tty and DETACH in last + data:
                    return False
                last = data[-1:]
                if data:
                    sock.sendall(data)
                else:
                    sources.remove(0)
                    sock.shutdown(socket.SHUT_WR)
    finally:
        if saved:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def window_size(container_id: str):
    """The terminal's size, for the container's pty (Docker does it at start and on SIGWINCH)."""
    try:
        rows, columns = os.get_terminal_size(0).lines, os.get_terminal_size(0).columns
    except OSError:
        return
    _status.ask(container_id, f"resize {rows} {columns}")
