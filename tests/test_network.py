"""Chapter 6b: container networking, proven with real containers (the OCI runtime joining the
namespace attach() made), each scenario inside a network namespace made for the test that plays
the host, so no bridge, veth or rule touches the real host. Each scenario ends by checking that
nothing of ours is left in its host: no veth, netns file, endpoint record or nftables table."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, require, require_root

ROOTFS_HELP = "the busybox rootfs fixture"


@pytest.fixture
def lab_env(tmp_path, busybox_rootfs, monkeypatch):
    require_root()
    require(Path("/usr/lib/x86_64-linux-gnu/libnftables.so.1").exists() or
            subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout.count("libnftables.so.1"),
            "libnftables (Debian package nftables) is missing")
    monkeypatch.setenv("MINIDOCKER_ROOT", str(tmp_path / "state"))
    monkeypatch.setenv("MINIDOCKER_RUNROOT", str(tmp_path / "run"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    yield tmp_path, busybox_rootfs
    from minidocker.network import lab, links, sandbox
    lab.run_in(sandbox.reconcile)               # after a failure: the lab's owner is gone, so all goes
    for path in tmp_path.glob("*-netns"):
        links.remove_netns(path)


def in_lab(function, *args):
    from minidocker.network import lab
    try:
        lab.run_in(function, *args)
    except lab.LabError as error:
        pytest.fail(str(error), pytrace=False)


def nothing_left():
    """Inside the lab host: no veth, netns, endpoint or rule of ours remains."""
    from minidocker import paths
    from minidocker.network import firewall, links, store
    left = [link["name"] for link in links.describe() if link["name"].startswith(links.HOST_PREFIX)]
    assert not left, f"veths left: {left}"
    assert not list((paths.run_root() / "netns").glob("*")), "netns files left"
    assert not store.endpoints(), "endpoint records left"
    assert not firewall.table_exists(), firewall.nft("list ruleset")


def side_netns(directory: Path, name: str, bridge: str, host_address: str, address: str):
    """Another namespace plugged into the lab host (an outside client, or "the internet")."""
    from minidocker.network import links
    path = directory / f"{name}-netns"
    links.create_netns(path)
    links.ensure_bridge(bridge, host_address, 24)
    links.plug(path, f"{name}-v", "eth0", bridge, address, 24, "02:00:00:00:00:0" + str(len(name) % 10),
               gateway=host_address)
    return path


def serve(netns, proto: str, port: int) -> int:
    """A server in `netns` that answers every client with the address it came from."""
    from minidocker.runtime import libc
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(netns, os.O_RDONLY)
            libc.setns(fd, libc.CLONE_NEWNET)
            kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            if proto == "tcp":
                sock.listen()
                while True:
                    conn, peer = sock.accept()
                    conn.sendall(peer[0].encode())
                    conn.close()
            while True:
                _, peer = sock.recvfrom(100)
                sock.sendto(peer[0].encode(), peer)
        finally:
            os._exit(0)
    time.sleep(0.2)
    return pid


def ask(address: str, port: int, proto: str = "tcp", netns="/proc/self/ns/net", payload=b"?") -> str:
    """What the server at address:port says, asked from this namespace or from `netns`."""
    from minidocker.network import lab
    answer_read, answer_write = os.pipe()

    def client():
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.settimeout(3)
            sock.connect((address, port))
            sock.send(payload)
            os.write(answer_write, sock.recv(1000))
    lab.run_in(client, netns=netns)
    os.close(answer_write)
    with os.fdopen(answer_read, "rb") as answer:
        return answer.read().decode()


def stop_servers(*pids):
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_default_bridge_ping_published_ports_nat_and_cleanup(lab_env):
    directory, rootfs = lab_env

    def scenario():
        from minidocker import network
        from minidocker.network import lab, links
        client_ns = side_netns(directory, "client", "wan0", "198.51.100.1", "198.51.100.2")
        internet_ns = side_netns(directory, "inet", "inet0", "203.0.113.1", "203.0.113.2")
        a = network.attach("a" * 64, "web", network.NetworkOptions(publish=["8080:80", "5353:5353/udp"]))
        b = network.attach("b" * 64, "pinger")
        assert a.settings["IPAddress"] == "172.17.0.2" and b.settings["IPAddress"] == "172.17.0.3"
        assert a.settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                                       "5353/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}]}
        assert "172.17.0.2\tweb" not in a.hosts and a.hosts.endswith(f"172.17.0.2\t{'a' * 12}\n")
        web = lab.start(directory, lab.container_bundle(rootfs, directory / "b", "web",
                                                        ["httpd", "-f", "-p", "80", "-h", "/etc"], a))
        udp = serve(a.netns, "udp", 5353)
        internet = serve(internet_ns, "tcp", 7000)
        try:
            pinger = lab.container_bundle(rootfs, directory / "b", "pinger", ["sh", "-c",
                "ping -c1 -W3 172.17.0.2 && wget -qO- http://172.17.0.2/hostname && cat /etc/hostname /etc/resolv.conf "
                "&& nc 203.0.113.2 7000 </dev/null"], b)
            ran = lab.runtime(directory, "run", "--bundle", str(pinger), "pinger")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert "1 packets received" in ran.stdout and "a" * 12 in ran.stdout and "b" * 12 in ran.stdout
            assert "nameserver" in ran.stdout and "127.0.0.11" not in ran.stdout
            assert ran.stdout.rstrip().endswith("203.0.113.1")        # MASQUERADE: the internet sees the host
            for host in ("127.0.0.1", "198.51.100.1"):                 # the host itself, through the DNAT
                assert subprocess.run(["wget", "-qO-", f"http://{host}:8080/hostname"], capture_output=True,
                                      text=True, timeout=10).stdout == "a" * 12 + "\n"
            answer = ask("198.51.100.1", 8080, netns=client_ns, payload=b"GET /hostname HTTP/1.0\r\n\r\n")
            assert answer.startswith("HTTP/1.1 200") and "a" * 12 in answer         # TCP from outside
            assert ask("198.51.100.1", 5353, "udp", netns=client_ns) == "198.51.100.2"   # UDP from outside
            assert ask("172.17.0.1", 5353, "udp") == "172.17.0.1"
        finally:
            stop_servers(udp, internet)
            lab.stop(directory, web)
        network.detach("a" * 64)
        network.detach("b" * 64)
        network.detach("b" * 64)                        # idempotent
        for path in (client_ns, internet_ns):
            links.remove_netns(path)
        nothing_left()
    in_lab(scenario)
