"""The network benchmark's driver (bench/network.sh runs it inside `unshare --net`, a lab host).

    network_bench.py warm WORK N               N attach+detach in one warm process: ms each
    network_bench.py throughput WORK           iperf3 through a published port vs a veth+DNAT made
                                               by hand, both from an outside client namespace
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minidocker import network  # noqa: E402


def warm(work: Path, count: int):
    network.attach("0" * 64, "warm")          # the first pays pyroute2's import and the bridge
    network.detach("0" * 64)
    started = time.perf_counter()
    for _ in range(count):
        network.attach("0" * 64, "warm")
        network.detach("0" * 64)
    print(f"attach+detach in a warm process: {(time.perf_counter() - started) / count * 1000:.1f} ms each")


def _side(work: Path, name: str, bridge: str, host: str, address: str) -> Path:
    """A namespace plugged into the lab host through a bridge of its own: the outside client."""
    from minidocker.network import links
    path = work / f"{name}-netns"
    links.create_netns(path)
    links.ensure_bridge(bridge, host, 24)
    links.plug(path, f"{name}-v", "eth0", bridge, address, 24, "02:00:00:00:00:99", gateway=host)
    return path


def _by_hand(work: Path) -> Path:
    """A namespace behind one plain veth pair (no bridge) and one DNAT rule: 198.51.100.1:5202."""
    from minidocker.network import firewall, links
    path = work / "manual-netns"
    links.create_netns(path)
    with links.netlink() as ipr:
        fd = os.open(path, os.O_RDONLY)
        ipr.link("add", ifname="manual0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": fd})
        os.close(fd)
        index = links.index(ipr, "manual0")
        ipr.addr("add", index=index, address="192.0.2.1", prefixlen=30)
        ipr.link("set", index=index, state="up")
    with links.netlink(path) as inside:
        index = links.index(inside, "eth0")
        inside.addr("add", index=index, address="192.0.2.2", prefixlen=30)
        inside.link("set", index=index, state="up")
        inside.route("add", dst="0.0.0.0/0", gateway="192.0.2.1")
    firewall.nft("table ip manual {\n chain pre {\n  type nat hook prerouting priority -100; policy accept;\n"
                 "  tcp dport 5202 dnat to 192.0.2.2:5201\n }\n}\n")
    return path


def _interleaved(commands: dict, runs: int, result: Path):
    """Run the commands in turn (A B A B ...: a busy machine's slow moments fall on both) and
    write hyperfine's JSON shape (median wall time, mean user and system time) for ratios.py."""
    import resource
    import statistics
    times = {name: [] for name in commands}
    cpu = {name: [0.0, 0.0] for name in commands}
    for _ in range(runs + 1):                                  # the first round warms up
        for name, command in commands.items():
            before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[name].append(time.perf_counter() - started)
            cpu[name][0] += after.ru_utime - before.ru_utime
            cpu[name][1] += after.ru_stime - before.ru_stime
    result.write_text(json.dumps({"results": [
        {"command": name, "median": statistics.median(times[name][1:]), "user": cpu[name][0] / (runs + 1),
         "system": cpu[name][1] / (runs + 1)} for name in commands]}))


def throughput(work: Path, runs: int):
    from minidocker.network import firewall, links
    client = _side(work, "client", "wan0", "198.51.100.1", "198.51.100.2")
    attachment = network.attach("1" * 64, "iperf", network.NetworkOptions(publish=["5201:5201"]))
    manual = _by_hand(work)
    servers = [subprocess.Popen(["nsenter", f"--net={ns}", "iperf3", "-s", "-p", "5201"], stdout=subprocess.DEVNULL)
               for ns in (attachment.netns, manual)]
    try:
        time.sleep(0.5)
        ask = f"nsenter --net={client} iperf3 -c 198.51.100.1 -n 1G -p".split()
        commands = {"veth+DNAT by hand": [*ask, "5202"], "published port (minidocker)": [*ask, "5201"]}
        _interleaved(commands, runs, work / "throughput.json")
    finally:
        for server in servers:
            server.kill()
            server.wait()
        network.detach("1" * 64)
        firewall.nft("table ip manual\ndelete table ip manual\n")
        for path in (client, manual):
            links.remove_netns(path)


if __name__ == "__main__":
    verb = sys.argv[1]
    if verb == "warm":
        warm(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        throughput(Path(sys.argv[2]), int(sys.argv[3]))
