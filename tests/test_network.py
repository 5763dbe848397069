"""Chapter 6b: container networking, proven with real containers (the OCI runtime joining the
namespace attach() made), each scenario inside a network namespace made for the test that plays
the host, so no bridge, veth or rule touches the real host. Each scenario ends by checking that
nothing of ours is left in its host: no veth, netns file, endpoint record or nftables table."""
import json
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
    deadline = time.monotonic() + 5       # the lab is a subreaper: a DNS server left would be its child
    while time.monotonic() < deadline:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            break
        time.sleep(0.05)
    from support import processes
    left = [pid for pid, (state, ppid) in processes().items() if ppid == os.getpid() and state not in "ZX"]
    assert not left, f"processes left: {left}"


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
    from minidocker.network import links
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            links.enter(netns)
            kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            if proto == "tcp":
                sock.listen()
            os.write(ready_write, b"ready")
            if proto == "tcp":
                while True:
                    conn, peer = sock.accept()
                    conn.sendall(peer[0].encode())
                    conn.close()
            while True:
                _, peer = sock.recvfrom(100)
                sock.sendto(peer[0].encode(), peer)
        finally:
            os._exit(0)
    os.close(ready_write)
    assert os.read(ready_read, 5) == b"ready", "the test's server did not start"     # it listens now
    os.close(ready_read)
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
            while True:                         # TCP: to the end (the body may come apart from the headers)
                data = sock.recv(1000)
                os.write(answer_write, data)
                if not data or proto == "udp":
                    break
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


def test_user_networks_names_through_dns_and_isolation(lab_env):
    directory, rootfs = lab_env

    def scenario():
        from minidocker import network
        from minidocker.network import lab, networks, store
        networks.create("front", "10.10.0.0/24")
        networks.create("back", "10.20.0.0/24")
        opts = lambda net, *aliases: network.NetworkOptions(network=net, aliases=list(aliases))  # noqa: E731
        db = network.attach("d" * 64, "db", opts("front", "database"))
        assert db.resolv_conf.startswith("nameserver 127.0.0.11\n") and db.settings["IPAddress"] == ""
        assert db.settings["Networks"]["front"]["IPAddress"] == "10.10.0.2"
        server = lab.start(directory, lab.container_bundle(rootfs, directory / "b", "db", ["sleep", "60"], db))
        web = network.attach("e" * 64, "web", opts("front"))
        other = network.attach("f" * 64, "outsider", opts("back"))
        try:
            def run(name, attachment, script):
                bundle = lab.container_bundle(rootfs, directory / "b", name, ["sh", "-c", script], attachment)
                return lab.runtime(directory, "run", "--bundle", str(bundle), name)
            ran = run("web", web, "nslookup db && nslookup database && ping -c1 -W3 db")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert ran.stdout.count("10.10.0.2") >= 3 and "1 packets received" in ran.stdout
            later = network.attach("9" * 64, "later", opts("front"))        # a third, started later
            ran = run("web2", web, "nslookup later")
            assert "10.10.0.4" in ran.stdout, ran.stdout + ran.stderr
            ran = run("outsider", other, "nslookup db; ping -c1 -W2 10.10.0.2")
            assert ran.returncode != 0 and "10.10.0.2" not in ran.stdout.split("PING")[0]   # isolated
            network.detach("9" * 64)
            assert later.netns and not Path(later.netns).exists()
            try:
                networks.remove("front")
                raise AssertionError("a network in use was removed")
            except store.NetworkError as error:
                assert "has active endpoints" in str(error)
        finally:
            lab.stop(directory, server)
        for cid in ("d", "e", "f"):
            network.detach(cid * 64)
        assert sorted(networks.prune()) == ["back", "front"]
        assert [n["Name"] for n in store.networks()] == ["bridge"]
        nothing_left()
    in_lab(scenario)


def test_ipam_hands_out_distinct_addresses_to_20_concurrent_attaches(lab_env):
    def scenario():
        from minidocker import network
        from minidocker.network import store
        children = []
        for n in range(20):
            pid = os.fork()
            if pid == 0:
                try:
                    network.attach(f"{n:02d}" + "c" * 62, f"c{n}", owner_pid=os.getppid())
                    os._exit(0)
                except BaseException:
                    os._exit(1)
            children.append(pid)
        assert all(os.waitpid(pid, 0)[1] == 0 for pid in children)
        addresses = [net["IPAddress"] for ep in store.endpoints() for net in ep["Networks"].values()]
        assert len(addresses) == 20 and len(set(addresses)) == 20
        for n in range(20):
            network.detach(f"{n:02d}" + "c" * 62)
        nothing_left()
    in_lab(scenario)


def test_a_killed_owner_leaves_nothing_after_prune(lab_env, minidocker):
    def scenario():
        from minidocker.network import store
        owner = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom minidocker import network\n"
                                  "network.attach('k' * 64, 'killed', network.NetworkOptions(network='front', "
                                  "publish=['8081:80']))\nprint('ready', flush=True)\ntime.sleep(60)"],
                                 stdout=subprocess.PIPE, text=True)
        assert owner.stdout.readline() == "ready\n"
        owner.kill()
        owner.wait()
        assert store.endpoints()            # what the killed command made is still there...
        kept = minidocker("network", "prune", input="n\n")             # Docker's question, answered no
        assert kept.stdout == ("WARNING! This will remove all custom networks not used by at least one container.\n"
                               "Are you sure you want to continue? [y/N] ") and kept.returncode == 0
        assert minidocker("network", "prune", input="y\n").stdout.endswith("[y/N] Deleted Networks:\nfront\n\n")
        nothing_left()                      # ...until the reconcile of prune
        from minidocker.network import links
        assert [link["name"] for link in links.describe()] == ["lo"]

    def with_network():
        assert minidocker("network", "create", "front").returncode == 0
        scenario()
    in_lab(with_network)


def test_bad_input_is_one_line_and_leaves_nothing(lab_env, minidocker):
    def scenario():
        from minidocker import network
        from minidocker.errors import MinidockerError
        from minidocker.network import links

        def refused(args, message):
            result = minidocker("network", *args)
            assert result.returncode == 1 and result.stderr == f"minidocker: {message}\n", result
        assert minidocker("network", "create", "--subnet", "10.30.0.0/16", "one").returncode == 0
        refused(["create", "--subnet", "10.30.5.0/24", "two"],
                "invalid pool request: Pool overlaps with other one on this address space")
        refused(["create", "--subnet", "10.40.0.0/24", "--gateway", "10.41.0.1", "two"],
                "no matching subnet for gateway 10.41.0.1")
        refused(["create", "--subnet", "nonsense", "two"], "invalid subnet nonsense : invalid CIDR address: nonsense")
        refused(["create", "one"], "network with name one already exists")
        refused(["rm", "nowhere"], "network nowhere not found")
        refused(["rm", "bridge"], "bridge is a pre-defined network and cannot be removed")
        refused(["connect", "one", "nobody"], "No such container: nobody")
        network.attach("p" * 64, "holder", network.NetworkOptions(publish=["8080:80"]))
        network.attach("r" * 64, "user", network.NetworkOptions(network="one"))
        result = minidocker("network", "rm", "one")
        assert result.returncode == 1 and result.stderr.endswith("has active endpoints\n")
        network.detach("r" * 64)
        blocker = socket.socket()
        blocker.bind(("0.0.0.0", 9000))
        for options, message in (
                (dict(publish=["80:http"]), "invalid containerPort: http"),
                (dict(publish=["x:80"]), "invalid hostPort: x"),
                (dict(publish=["80/sctp"]), "invalid proto: sctp"),
                (dict(publish=["8080:80"]), "Bind for 0.0.0.0:8080 failed: port is already allocated"),
                (dict(publish=["9000:80"]), "failed to bind host port for 0.0.0.0:9000/tcp: address already in use"),
                (dict(network="nowhere"), "network nowhere not found"),
                (dict(dns=["not-an-ip"]), 'invalid argument "not-an-ip" for "--dns" flag: IP address is not correctly formatted: not-an-ip'),
                (dict(network="container:" + "p" * 12, publish=["1:1"]),
                 "conflicting options: port publishing and the container type network mode")):
            try:
                network.attach("q" * 64, "refused", network.NetworkOptions(**options))
                raise AssertionError(f"accepted {options}")
            except MinidockerError as error:
                assert str(error) == message
            assert [link["name"] for link in links.describe() if link["name"].startswith("mdv")] == ["mdvpppppppppp0"]
            assert not (Path(os.environ["MINIDOCKER_RUNROOT"]) / "netns" / ("q" * 64)).exists()
        blocker.close()
        network.detach("p" * 64)
        assert minidocker("network", "rm", "one").stdout == "one\n"
        nothing_left()
    in_lab(scenario)


def test_port_verb_publish_all_and_connect(lab_env, minidocker):
    def scenario():
        from minidocker import network
        from minidocker.network import links
        a = network.attach("a" * 64, "web", network.NetworkOptions(
            publish=["127.0.0.1:8080:80"], publish_all=True, exposed=["80/tcp", "53/udp"]))
        random_port = a.settings["Ports"]["53/udp"][0]["HostPort"]
        assert minidocker("port", "web").stdout == f"53/udp -> 0.0.0.0:{random_port}\n80/tcp -> 127.0.0.1:8080\n"
        assert minidocker("port", "web", "80").stdout == "127.0.0.1:8080\n"
        missing = minidocker("port", "web", "81")
        assert missing.returncode == 1 and missing.stderr == "minidocker: No public port '81' published for web\n"
        assert minidocker("network", "create", "side").returncode == 0
        assert minidocker("network", "connect", "side", "web").returncode == 0
        inside = {link["name"]: link["addresses"] for link in links.describe(a.netns)}
        assert inside["eth0"] == ["172.17.0.2/16"] and inside["eth1"][0].endswith(".0.2/16")
        again = minidocker("network", "connect", "side", "web")
        assert again.returncode == 1 and "already exists in network side" in again.stderr
        assert minidocker("network", "disconnect", "side", "web").returncode == 0
        assert "eth1" not in {link["name"] for link in links.describe(a.netns)}
        network.detach("a" * 64)
        assert minidocker("network", "rm", "side").returncode == 0
        nothing_left()
    in_lab(scenario)


def test_modes_files_and_what_run_ps_and_inspect_get(lab_env):
    def scenario():
        from minidocker import network
        from minidocker.network import networks
        from minidocker.runtime.spec import default_spec
        a = network.attach("a" * 64, "web", network.NetworkOptions(
            publish=["8080:80"], exposed=["80/tcp", "443/tcp"], hostname="www", add_hosts=["db:10.1.2.3", "gw:host-gateway"],
            dns=["192.0.2.53"]))
        assert a.hostname == "www" and "10.1.2.3\tdb\n172.17.0.1\tgw\n172.17.0.2\twww\n" in a.hosts
        assert a.resolv_conf.startswith("nameserver 192.0.2.53\n")
        spec = default_spec()
        a.apply_to_spec(spec)
        assert {"type": "network", "path": a.netns} in spec["linux"]["namespaces"] and spec["hostname"] == "www"
        assert network.ps_ports("a" * 64) == "443/tcp, 0.0.0.0:8080->80/tcp"     # Docker's order: runs first
        assert network.network_settings("a" * 64)["Ports"] == {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}
        joined = network.attach("j" * 64, "sidecar", network.NetworkOptions(network="container:web"))
        assert joined.netns == a.netns and joined.hosts == a.hosts and joined.mode == "container"
        none = network.attach("n" * 64, "alone", network.NetworkOptions(network="none"))
        host = network.attach("h" * 64, "hosted", network.NetworkOptions(network="host"))
        for attachment, expected in ((none, [{"type": "network"}]), (host, [])):
            spec = default_spec()
            attachment.apply_to_spec(spec)
            assert [ns for ns in spec["linux"]["namespaces"] if ns["type"] == "network"] == expected
        assert host.hostname == socket.gethostname() and none.settings["Networks"]["none"]["IPAddress"] == ""
        assert none.settings["Networks"]["none"]["NetworkID"] == networks.inspect("none")["Id"]
        for cid in "ajnh":
            network.detach(cid * 64)
        nothing_left()
    in_lab(scenario)


def upstream_resolver(address: str, answer: str) -> int:
    """A DNS server in this namespace answering every A question with `answer` (the "host's")."""
    pid = os.fork()
    if pid == 0:
        try:
            from dnslib import QTYPE, RR, A, DNSRecord
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((address, 53))
            while True:
                query, peer = sock.recvfrom(4096)
                request = DNSRecord.parse(query)
                reply = request.reply()
                if request.q.qtype == QTYPE.A:
                    reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(answer), ttl=60))
                sock.sendto(reply.pack(), peer)
        finally:
            os._exit(0)
    time.sleep(0.2)
    return pid


def nslookup_on_a_user_network(directory, rootfs, subnet: str, server: str, name: str, then=None):
    """A container "asker" on a user network "app" whose DNS forwards to `server` looks `name` up;
    then(its netns, its address) while it is there; (what nslookup printed, its attachment)."""
    from minidocker import network
    from minidocker.network import lab, networks
    networks.create("app", subnet)
    c = network.attach("c" * 64, "asker", network.NetworkOptions(network="app", dns=[server]))
    try:
        bundle = lab.container_bundle(rootfs, directory / "b", "asker", ["nslookup", name], c)
        ran = lab.runtime(directory, "run", "--bundle", str(bundle), "asker")
        if then:
            then(c.netns, c.settings["Networks"]["app"]["IPAddress"])
        return ran.stdout + ran.stderr, c
    finally:
        network.detach("c" * 64)
        networks.remove("app")


def test_embedded_dns_forwards_other_names_from_the_hosts_namespace(lab_env):
    directory, rootfs = lab_env

    def scenario():
        resolver = upstream_resolver("127.0.0.1", "192.0.2.99")    # on the host's loopback: unreachable
        try:                                                         # from the container, but not from
            printed, _ = nslookup_on_a_user_network(directory, rootfs,  # a socket born in the host's netns
                                                    "10.50.0.0/24", "127.0.0.1", "example.test")
            assert "192.0.2.99" in printed, printed
        finally:
            stop_servers(resolver)
        nothing_left()
    in_lab(scenario)


def truncating_resolver(netns, address: str, answers: list) -> int:
    """A DNS server of "the internet" (the namespace at `netns`): over UDP it answers truncated (the
    TC bit, no records), over TCP in full, with `answers` for any name."""
    pid = os.fork()
    if pid == 0:
        try:
            import select
            from dnslib import QTYPE, RR, A, DNSRecord
            from minidocker.network import dns, links
            links.enter(netns)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((address, 53))
            tcp = socket.create_server((address, 53))
            while True:
                ready, _, _ = select.select([udp, tcp], [], [])
                if udp in ready:
                    query, peer = udp.recvfrom(4096)
                    reply = DNSRecord.parse(query).reply()
                    reply.header.tc = 1
                    udp.sendto(reply.pack(), peer)
                if tcp in ready:
                    conn, _ = tcp.accept()
                    with conn:
                        request = DNSRecord.parse(dns.read_message(conn))
                        reply = request.reply()
                        for answer in answers:
                            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(answer), ttl=60))
                        data = reply.pack()
                        conn.sendall(len(data).to_bytes(2, "big") + data)
        finally:
            os._exit(0)
    time.sleep(0.3)
    return pid


def ask_over_tcp(name: str, expected: list):
    """In a container's namespace: ask 127.0.0.11 over TCP, as a resolver does after a truncation."""
    from dnslib import DNSRecord
    from minidocker.network import dns
    query = DNSRecord.question(name).pack()
    with socket.create_connection(("127.0.0.11", 53), timeout=5) as conn:
        conn.sendall(len(query).to_bytes(2, "big") + query)
        got = sorted(str(rr.rdata) for rr in DNSRecord.parse(dns.read_message(conn)).rr)
    assert got == sorted(expected), (name, got)


def test_embedded_dns_answers_over_tcp_and_retries_a_truncated_upstream_over_tcp(lab_env):
    directory, rootfs = lab_env

    def scenario():
        from minidocker.network import lab
        internet = side_netns(directory, "dnsup", "up0", "198.51.100.1", "198.51.100.53")
        answers = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
        resolver = truncating_resolver(internet, "198.51.100.53", answers)

        def over_tcp_too(netns, address):
            lab.run_in(ask_over_tcp, "big.example.test", answers, netns=netns)   # TCP in, TCP upstream
            lab.run_in(ask_over_tcp, "asker", [address], netns=netns)           # a peer's name over TCP
        try:
            printed, _ = nslookup_on_a_user_network(directory, rootfs, "10.52.0.0/24", "198.51.100.53",
                                                    "big.example.test", then=over_tcp_too)
            assert all(a in printed for a in answers), printed                 # UDP in, TCP upstream
        finally:
            stop_servers(resolver)
        nothing_left()
    in_lab(scenario)


# The command line: `run`, `create`, `start`, `ps`, `inspect`, `port`, `rm` with the network wired
# in, each scenario in a lab host of its own (the CLI inherits the lab's namespace).

def inspect(docker, name: str, field: str) -> str:
    result = docker("inspect", "-f", "{{" + field + "}}", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def http_get(url: str) -> str:
    """A page fetched from this namespace, asked again while the server is still starting (10 s)."""
    deadline = time.monotonic() + 10
    while True:
        got = subprocess.run(["wget", "-qO-", url], capture_output=True, text=True, timeout=10)
        if got.returncode == 0 or time.monotonic() > deadline:
            return got.stdout
        time.sleep(0.1)


def our_veths() -> list:
    from minidocker.network import links
    return sorted(link["name"] for link in links.describe() if link["name"].startswith(links.HOST_PREFIX))


def test_cli_default_bridge_ping_published_tcp_udp_nat_and_hairpin(lab_env, docker):
    directory, _ = lab_env

    def scenario():
        from minidocker.network import links
        client_ns = side_netns(directory, "client", "wan0", "198.51.100.1", "198.51.100.2")
        internet_ns = side_netns(directory, "inet", "inet0", "203.0.113.1", "203.0.113.2")
        ok(docker("run", "-d", "--name", "web", "-p", "8080:80", "-p", "5353:5353/udp", "busybox",
                  "httpd", "-f", "-p", "80", "-h", "/etc"))
        address, netns = inspect(docker, "web", ".NetworkSettings.IPAddress"), inspect(docker, "web", ".NetworkSettings.SandboxKey")
        assert address == "172.17.0.2" and "0.0.0.0:5353->5353/udp, 0.0.0.0:8080->80/tcp" in ok(docker("ps"))
        assert ok(docker("port", "web")) == "80/tcp -> 0.0.0.0:8080\n5353/udp -> 0.0.0.0:5353\n"
        udp, internet = serve(netns, "udp", 5353), serve(internet_ns, "tcp", 7000)
        try:
            short = inspect(docker, "web", ".Id")[:12]
            assert http_get("http://127.0.0.1:8080/hostname") == short + "\n"        # httpd listens
            out = ok(docker("run", "--rm", "busybox", "sh", "-c", f"ping -c1 -W3 {address} && wget -qO- "
                            f"http://{address}/hostname && ip -o -4 addr show eth0 && nc 203.0.113.2 7000 </dev/null"))
            assert "1 packets received" in out and "inet 172.17.0.3/16" in out
            assert out.rstrip().endswith("203.0.113.1")                 # outbound NAT: the internet sees the host
            for host in ("127.0.0.1", "172.17.0.1", "198.51.100.1"):    # the host itself, through the DNAT
                assert http_get(f"http://{host}:8080/hostname") == short + "\n", host
            answer = ask("198.51.100.1", 8080, netns=client_ns, payload=b"GET /hostname HTTP/1.0\r\n\r\n")
            assert answer.startswith("HTTP/1.1 200") and short in answer             # TCP from outside
            assert ask("198.51.100.1", 5353, "udp", netns=client_ns) == "198.51.100.2"   # UDP from outside
            hairpin = docker("exec", "web", "timeout", "5", "wget", "-qO-", "http://198.51.100.1:8080/hostname")
            assert hairpin.stdout == short + "\n", hairpin.stderr         # a container to its own published port
        finally:
            stop_servers(udp, internet)
        assert ok(docker("rm", "-f", "web")) == "web\n"
        for path in (client_ns, internet_ns):
            links.remove_netns(path)
        nothing_left()
    in_lab(scenario)


def test_cli_user_network_names_later_containers_tcp_dns_and_isolation(lab_env, docker):
    def scenario():
        from minidocker.network import lab
        ok(docker("network", "create", "--subnet", "10.10.0.0/24", "app"))
        ok(docker("network", "create", "--subnet", "10.20.0.0/24", "other"))
        ok(docker("run", "-d", "--name", "db", "--network", "app", "--network-alias", "database", "busybox", "sleep", "60"))
        out = ok(docker("run", "--rm", "--network", "app", "busybox", "sh", "-c",
                        "cat /etc/resolv.conf; ping -c1 -W3 db && nslookup database"))
        assert out.startswith("nameserver 127.0.0.11\n") and "1 packets received" in out and out.count("10.10.0.2") >= 2
        ok(docker("run", "-d", "--name", "later", "--network", "app", "busybox", "sleep", "60"))
        later = inspect(docker, "later", ".NetworkSettings.Networks.app.IPAddress")
        assert later.startswith("10.10.0.") and later in ok(docker("run", "--rm", "--network", "app", "busybox", "nslookup", "later"))

        def over_tcp():                                            # DNS over TCP, from the container's namespace
            from dnslib import DNSRecord
            reply = DNSRecord.parse(DNSRecord.question("later").send("127.0.0.11", 53, tcp=True, timeout=3))
            assert [str(rr.rdata) for rr in reply.rr] == [later], reply
        lab.run_in(over_tcp, netns=inspect(docker, "db", ".NetworkSettings.SandboxKey"))
        isolated = docker("run", "--rm", "--network", "other", "busybox", "ping", "-c1", "-W2", "10.10.0.2")
        assert isolated.returncode != 0 and "0 packets received" in isolated.stdout        # networks are isolated
        refused = docker("network", "rm", "app")
        assert refused.returncode == 1 and refused.stderr.endswith("has active endpoints\n")
        assert ok(docker("rm", "-f", "db", "later")) == "db\nlater\n"
        assert ok(docker("network", "rm", "app", "other")) == "app\nother\n"
        nothing_left()
    in_lab(scenario)


def test_cli_ipam_under_20_concurrent_runs(lab_env, docker):
    directory, _ = lab_env
    sync = directory / "sync"
    sync.mkdir()

    def scenario():
        script = "ip -o -4 addr show eth0; while [ ! -e /sync/go ]; do sleep 0.1; done"
        runs = [subprocess.Popen(docker.argv("run", "--rm", "-v", f"{sync}:/sync", "busybox", "sh", "-c", script),
                                 env=docker.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(20)]
        try:
            lines = [run.stdout.readline() for run in runs]          # all 20 hold their address at once
        finally:
            (sync / "go").touch()
        for run in runs:
            assert run.wait(timeout=120) == 0, run.stderr.read()
        addresses = [line.split()[3] for line in lines]
        assert len(set(addresses)) == 20 and all(a.startswith("172.17.") for a in addresses), lines
        nothing_left()
    in_lab(scenario)


def test_cli_killed_run_or_supervisor_leave_nothing(lab_env, docker):
    def scenario():
        from minidocker.container import status
        runner = subprocess.Popen(docker.argv("run", "--name", "fg", "-p", "8081:80", "busybox", "sleep", "60"),
                                  env=docker.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not our_veths() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        runner.kill()                                  # kill -9 of a foreground `run`: its container lives on...
        runner.wait()
        ok(docker("run", "--rm", "--network", "none", "busybox", "true"))   # ...but any attach reconciles its sandbox
        assert our_veths() == [] and "8081" not in ok(docker("ps"))
        ok(docker("run", "-d", "--name", "bg", "-p", "8082:80", "busybox", "sleep", "60"))
        os.kill(status.supervisor_pid(inspect(docker, "bg", ".Id"))[0], signal.SIGKILL)   # its supervisor killed
        assert ok(docker("network", "prune", "-f")) == ""                    # reconciles
        assert our_veths() == []
        assert ok(docker("rm", "-f", "fg", "bg")) == "fg\nbg\n"
        nothing_left()
    in_lab(scenario)


def test_cli_create_start_stop_restart_policy_attach_each_run(lab_env, docker):
    def scenario():
        ok(docker("create", "--name", "web", "-p", "8083:80", "--hostname", "www", "--add-host", "db:10.1.2.3",
                  "--dns", "192.0.2.53", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"))
        assert inspect(docker, "web", ".HostConfig.NetworkMode") == "bridge"
        assert our_veths() == [] and inspect(docker, "web", ".NetworkSettings.IPAddress") == ""   # not at create
        assert "8083" not in ok(docker("ps", "-a"))                    # no PORTS while created
        ok(docker("start", "web"))
        assert len(our_veths()) == 1 and inspect(docker, "web", ".NetworkSettings.IPAddress") == "172.17.0.2"
        for name, text in (("hostname", "www\n"), ("hosts", "10.1.2.3\tdb\n172.17.0.2\twww\n"),
                           ("resolv.conf", "nameserver 192.0.2.53\n")):
            got = http_get(f"http://127.0.0.1:8083/{name}")
            assert text in got, (name, got)
        ok(docker("stop", "-t", "1", "web"))
        assert our_veths() == [] and inspect(docker, "web", ".NetworkSettings.IPAddress") == ""
        ok(docker("start", "web"))
        assert len(our_veths()) == 1 and inspect(docker, "web", ".NetworkSettings.IPAddress") == "172.17.0.2"
        ok(docker("rm", "-f", "web"))
        ok(docker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c",
                  "ip -o -4 addr show eth0 | wc -l; exit 3"))
        assert ok(docker("wait", "flaky")) == "3\n"
        assert ok(docker("logs", "flaky")).split() == ["1", "1", "1"]      # every run had its eth0
        ok(docker("rm", "flaky"))
        nothing_left()
    in_lab(scenario)


def test_cli_a_start_that_fails_leaves_the_container_created_as_docker_does(lab_env, docker):
    """Docker allocates the address and ports at start: `run -d` whose port is taken prints one
    line, exits 125, and leaves the container Created with nothing allocated; a later start works."""
    def scenario():
        blocker = socket.socket()
        blocker.bind(("0.0.0.0", 8084))
        result = docker("run", "-d", "--name", "late", "-p", "8084:80", "busybox", "httpd", "-f", "-p", "80",
                        "-h", "/etc")
        assert (result.returncode, result.stderr) == (
            125, "minidocker: failed to bind host port for 0.0.0.0:8084/tcp: address already in use\n"), result
        assert inspect(docker, "late", ".State.Status") == "created"
        assert "address already in use" in inspect(docker, "late", ".State.Error")
        assert our_veths() == [] and inspect(docker, "late", ".NetworkSettings.IPAddress") == ""
        from minidocker.network import store
        assert store.endpoints() == []                           # no lease, no port kept
        result = docker("run", "--name", "fg", "-p", "8084:80", "busybox", "true")   # the foreground run's child
        assert (result.returncode, result.stderr) == (
            125, "minidocker: failed to bind host port for 0.0.0.0:8084/tcp: address already in use\n"), result
        assert inspect(docker, "fg", ".State.Status") == "created" and our_veths() == [] and store.endpoints() == []
        ok(docker("rm", "fg"))
        blocker.close()
        ok(docker("start", "late"))
        assert inspect(docker, "late", ".State.Status") == "running" and len(our_veths()) == 1
        assert "172.17.0.2\t" in http_get("http://127.0.0.1:8084/hosts")     # the port is the container's now
        ok(docker("stop", "-t", "1", "late"))
        assert our_veths() == [] and store.endpoints() == []        # released at stop
        ok(docker("rm", "late"))
        nothing_left()
    in_lab(scenario)


def test_cli_bad_input_is_one_line_exit_125_and_leaves_nothing(lab_env, docker):
    def scenario():
        from minidocker.network import store
        ok(docker("run", "-d", "--name", "holder", "-p", "8080:80", "busybox", "sleep", "60"))
        held = our_veths()
        blocker = socket.socket()
        blocker.bind(("0.0.0.0", 9000))
        try:
            for args, message in (
                    (["-p", "8080:80"], "Bind for 0.0.0.0:8080 failed: port is already allocated"),
                    (["-p", "9000:80"], "failed to bind host port for 0.0.0.0:9000/tcp: address already in use"),
                    (["-p", "80:http"], "invalid containerPort: http"),
                    (["-p", "1:2:3:4"], "invalid IP address: 1:2"),
                    (["--network", "nowhere"], "network nowhere not found"),
                    (["--dns", "x"], 'invalid argument "x" for "--dns" flag: IP address is not correctly formatted: x'),
                    (["--add-host", "nocolon"], 'invalid argument "nocolon" for "--add-host" flag: bad format for '
                                                'add-host: "nocolon"'),
                    (["--network-alias", "a"], "network-scoped alias is supported only for containers in user "
                                               "defined networks"),
                    (["--network", "container:holder", "-p", "1:1"],
                     "conflicting options: port publishing and the container type network mode")):
                for detach in ([], ["-d"]):
                    result = docker("run", "--rm", *detach, *args, "busybox", "true")
                    assert (result.returncode, result.stderr) == (125, f"minidocker: {message}\n"), (args, result)
                    assert our_veths() == held and len(store.endpoints()) == 1, args     # no veth, no lease
        finally:
            blocker.close()
        assert ok(docker("ps", "-aq")).count("\n") == 1
        ok(docker("rm", "-f", "holder"))
        nothing_left()
    in_lab(scenario)


def test_publish_specs_are_parsed_and_shown_as_docker_does():
    """`-p` in every documented form, and `ps`'s PORTS column folded as the docker CLI folds it."""
    from minidocker.network.ports import Port, PortError, displayable, parse_exposed, parse_publish
    assert parse_publish("8080:80") == [Port(80, "tcp", "", 8080)]
    assert parse_publish("127.0.0.1:5353:53/udp") == [Port(53, "udp", "127.0.0.1", 5353)]
    assert parse_publish("127.0.0.1::80") == [Port(80, "tcp", "127.0.0.1", 0)]
    assert parse_publish("80") == [Port(80)]
    assert parse_publish("8000-8002:9000-9002") == [Port(9000, host_port=8000), Port(9001, host_port=8001),
                                                    Port(9002, host_port=8002)]
    assert parse_publish("7000-7010:80") == [Port(80, host_port=7000, host_last=7010)]
    assert parse_publish("7000-7010:80")[0].host_ports() == "7000-7010"
    assert [p.key() for p in parse_exposed("4000-4001/udp")] == ["4000/udp", "4001/udp"]
    for spec, message in (("", "no port specified: <empty>"), ("80:abc", "invalid containerPort: abc"),
                          ("70000:80", "invalid hostPort: 70000"), ("8000-7000:80", "invalid hostPort: 8000-7000"),
                          ("8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
                          ("1.2.3:80:80", "invalid IP address: 1.2.3"), ("1:2:3:4", "invalid IP address: 1:2"),
                          ("8080:80/xyz", "invalid proto: xyz")):
        with pytest.raises(PortError) as refused:
            parse_publish(spec)
        assert str(refused.value) == message, spec
    from minidocker.network.ports import _clash
    on_every = {"HostIp": "0.0.0.0", "HostPort": 8090, "Proto": "tcp"}
    assert _clash(Port(80, host_ip="127.0.0.1"), 8090, on_every) and _clash(Port(80), 8090, on_every)
    assert not _clash(Port(80, "udp"), 8090, on_every)
    assert not _clash(Port(80, host_ip="127.0.0.2"), 8090, {**on_every, "HostIp": "127.0.0.1"})
    assert displayable([("0.0.0.0", 8080, 80, "tcp"), ("", 0, 443, "tcp"), ("", 0, 53, "udp")]) == \
        "53/udp, 443/tcp, 0.0.0.0:8080->80/tcp"
    assert displayable([("0.0.0.0", p, p, "tcp") for p in (8000, 8001, 8002)] + [("", 0, p, "tcp") for p in (4000, 4001, 4003)]) \
        == "4000-4001/tcp, 4003/tcp, 0.0.0.0:8000-8002->8000-8002/tcp"
    assert displayable([("127.0.0.1", 6000, 6000, "udp"), ("127.0.0.1", 6001, 6001, "udp"), ("0.0.0.0", 7000, 80, "tcp")]) \
        == "127.0.0.1:6000-6001->6000-6001/udp, 0.0.0.0:7000->80/tcp"


def test_cli_ports_ranges_publish_all_port_and_ps_as_a_docker_user_sees_them(lab_env, docker):
    _, rootfs = lab_env

    def scenario():
        ok(docker("import", "-c", 'CMD ["sh"]', "-c", "EXPOSE 80 53/udp", rootfs, "web:latest"))
        ok(docker("run", "-d", "--name", "ranges", "-p", "8000-8002:8000-8002", "-p", "7000-7010:80",
                  "-p", "127.0.0.1:6000:6000/udp", "--expose", "4000-4001", "busybox", "sleep", "60"))
        row = ok(docker("ps")).splitlines()[1]
        assert ("4000-4001/tcp, 127.0.0.1:6000->6000/udp, 0.0.0.0:8000-8002->8000-8002/tcp, "
                "0.0.0.0:7000->80/tcp") in row, row
        assert ok(docker("port", "ranges")) == ("80/tcp -> 0.0.0.0:7000\n6000/udp -> 127.0.0.1:6000\n"
                                                "8000/tcp -> 0.0.0.0:8000\n8001/tcp -> 0.0.0.0:8001\n8002/tcp -> 0.0.0.0:8002\n")
        assert ok(docker("port", "ranges", "80/tcp")) == "0.0.0.0:7000\n"
        missing = docker("port", "ranges", "81")
        assert (missing.returncode, missing.stderr) == (1, "minidocker: No public port '81' published for ranges\n")
        assert inspect(docker, "ranges", "json .HostConfig.PortBindings").count('"7000-7010"') == 1
        ok(docker("run", "-d", "--name", "all", "-P", "web", "sleep", "60"))
        lines = ok(docker("port", "all")).splitlines()
        assert [line.split(" -> ")[0] for line in lines] == ["53/udp", "80/tcp"], lines
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        assert all(low <= int(line.rpartition(":")[2]) <= high for line in lines), lines
        ok(docker("run", "-d", "--name", "hosted", "--network", "host", "web", "sleep", "60"))
        assert inspect(docker, "hosted", "json .NetworkSettings.Ports") == "{}"     # no network of its own: no ports
        assert [row for row in ok(docker("ps")).splitlines() if row.endswith(" hosted") and "/tcp" in row] == []
        taken = docker("run", "--rm", "-p", "8001:80", "busybox", "true")
        assert (taken.returncode, taken.stderr) == (125, "minidocker: Bind for 0.0.0.0:8001 failed: port is already allocated\n")
        ok(docker("create", "--name", "idle", "busybox", "true"))
        assert (docker("port", "idle").returncode, docker("port", "idle").stdout) == (0, "")
        nobody = docker("port", "nobody")
        assert (nobody.returncode, nobody.stderr) == (1, "minidocker: No such container: nobody\n")
        ok(docker("rm", "-f", "ranges", "all", "idle", "hosted"))
        nothing_left()
    in_lab(scenario)


def test_cli_network_verbs_show_what_docker_shows(lab_env, docker):
    def scenario():
        assert ok(docker("network", "ls")).splitlines()[0] == "NETWORK ID     NAME      DRIVER    SCOPE"
        assert ok(docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")) == \
            "bridge bridge local\nhost host local\nnone null local\n"
        new_id = ok(docker("network", "create", "-d", "bridge", "--label", "tier=back", "auto")).strip()
        assert len(new_id) == 64 and ok(docker("network", "ls", "-q", "--no-trunc", "-f", "name=auto")) == new_id + "\n"
        assert ok(docker("network", "inspect", "-f", "{{json .IPAM.Config}}", "auto")) == \
            '[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]\n'
        ok(docker("network", "create", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.254", "fixed"))
        assert ok(docker("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{json .IPAM.Config}} {{.Labels}}",
                         "fixed", "auto")) == ('fixed bridge [{"Subnet":"10.77.0.0/24","Gateway":"10.77.0.254"}] map[]\n'
                                               'auto bridge [{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}] map[tier:back]\n')
        assert ok(docker("network", "ls", "-f", "type=custom", "--format", "{{.Name}}")) == "auto\nfixed\n"
        assert ok(docker("network", "ls", "-f", "driver=null", "--format", "{{.Name}}")) == "none\n"
        host, = json.loads(ok(docker("network", "inspect", "host")))
        assert (host["Name"], host["Driver"], host["IPAM"]["Config"], host["ConfigFrom"]) == ("host", "host", [], {"Network": ""})
        partly = docker("network", "inspect", "fixed", "nowhere")
        assert partly.returncode == 1 and json.loads(partly.stdout)[0]["Name"] == "fixed"
        assert partly.stderr == "minidocker: network nowhere not found\n"
        for args, message in ((["create", "--gateway", "10.9.0.1", "x"], "every ip-range or gateway must have a corresponding subnet"),
                              (["create", "--subnet", "10.77.0.0/16", "x"],
                               "invalid pool request: Pool overlaps with other one on this address space"),
                              (["create", "--subnet", "10.9.0.1/33", "x"], "invalid subnet 10.9.0.1/33 : invalid CIDR address: 10.9.0.1/33"),
                              (["create", "-d", "overlay", "x"], 'plugin "overlay" not found'),
                              (["ls", "-f", "colour=red"], "invalid filter 'colour'")):
            refused = docker("network", *args)
            assert (refused.returncode, refused.stderr) == (1, f"minidocker: {message}\n"), args
        ok(docker("run", "-d", "--name", "member", "--network", "fixed", "--hostname", "box", "--network-alias", "db",
                  "busybox", "sleep", "60"))
        names = ok(docker("run", "--rm", "--network", "fixed", "busybox", "sh", "-c",
                          "for n in member.fixed box db.fixed; do nslookup $n | grep -A1 ^Name; done"))
        assert names.count("Address: 10.77.0.1") == 3, names          # Docker's DNSNames, and NAME.NETWORK
        assert json.loads(inspect(docker, "member", "json .NetworkSettings.Networks.fixed.DNSNames"))[-1] == "box"
        containers = json.loads(ok(docker("network", "inspect", "-f", "{{json .Containers}}", "fixed")))
        assert [c["Name"] for c in containers.values()] == ["member"]
        assert next(iter(containers.values()))["IPv4Address"] == "10.77.0.1/24"
        member_id = inspect(docker, "member", ".Id")
        assert inspect(docker, "member", ".NetworkSettings.Networks.fixed.IPAddress") == "10.77.0.1"
        in_use = docker("network", "rm", "fixed")
        assert in_use.returncode == 1 and in_use.stderr.endswith("has active endpoints\n")
        not_on = docker("network", "disconnect", "auto", "member")
        assert (not_on.returncode, not_on.stderr) == (1, f"minidocker: container {member_id} is not connected to network auto\n")
        declined = docker("network", "prune", input="n\n")
        assert declined.stdout.startswith("WARNING! This will remove all custom networks not used by at least one container.")
        assert "auto" in ok(docker("network", "ls"))
        assert ok(docker("network", "prune", "-f")) == "Deleted Networks:\nauto\n\n"
        ok(docker("rm", "-f", "member"))
        assert ok(docker("network", "rm", "fixed")) == "fixed\n"
        nothing_left()
    in_lab(scenario)


def test_cli_ip_on_user_networks_with_their_subnet_as_docker_rules(lab_env, docker):
    """--ip (run, create, network connect): Docker's rules and words, checked before anything is made."""
    def scenario():
        from minidocker.network import store
        ok(docker("network", "create", "--subnet", "10.50.0.0/24", "fixed"))
        ok(docker("network", "create", "auto"))
        ok(docker("network", "create", "--subnet", "10.51.0.0/24", "other"))
        for args, message in (
                (["--ip", "10.50.0.9"], "user specified IP address is supported on user defined networks only"),
                (["--network", "none", "--ip", "10.50.0.9"],
                 "user specified IP address is supported on user defined networks only"),
                (["--network", "auto", "--ip", "172.18.0.9"], "user specified IP address is supported only when "
                                                              "connecting to networks with user configured subnets"),
                (["--network", "fixed", "--ip", "10.99.0.1"], "no configured subnet contains IP address 10.99.0.1"),
                (["--network", "fixed", "--ip", "nonsense"], "invalid IPv4 address: nonsense")):
            result = docker("run", "--rm", *args, "busybox", "true")
            assert (result.returncode, result.stderr) == (125, f"minidocker: {message}\n"), (args, result)
        assert our_veths() == [] and store.endpoints() == []
        ok(docker("run", "-d", "--name", "pinned", "--network", "fixed", "--ip", "10.50.0.9", "busybox", "sleep", "60"))
        assert inspect(docker, "pinned", ".NetworkSettings.Networks.fixed.IPAddress") == "10.50.0.9"
        assert inspect(docker, "pinned", ".NetworkSettings.Networks.fixed.IPAMConfig.IPv4Address") == "10.50.0.9"
        assert "10.50.0.9" in ok(docker("exec", "pinned", "ip", "-o", "-4", "addr", "show", "eth0"))
        result = docker("run", "--rm", "--network", "fixed", "--ip", "10.50.0.9", "busybox", "true")
        assert (result.returncode, result.stderr) == (125, "minidocker: Address already in use\n"), result
        assert len(our_veths()) == 1                                   # nothing half-made by the refusal
        ok(docker("network", "connect", "--ip", "10.51.0.77", "other", "pinned"))
        assert "10.51.0.77" in ok(docker("exec", "pinned", "ip", "-o", "-4", "addr", "show", "eth1"))
        result = docker("network", "connect", "--ip", "10.50.0.3", "auto", "pinned")
        assert (result.returncode, result.stderr) == (1, "minidocker: user specified IP address is supported only "
                                                         "when connecting to networks with user configured subnets\n")
        assert "_UserSubnet" not in ok(docker("network", "inspect", "fixed"))
        ok(docker("rm", "-f", "pinned"))
        ok(docker("run", "--rm", "--network", "fixed", "--ip", "10.50.0.9", "busybox", "true"))   # released
        nothing_left()
    in_lab(scenario)
