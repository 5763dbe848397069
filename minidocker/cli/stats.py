"""`minidocker stats --no-stream`: resource usage of running containers, from their cgroups."""
import sys


def register(verbs):
    parser = verbs.add_parser("stats", help="Display a snapshot of containers' resource usage statistics")
    parser.add_argument("-a", "--all", action="store_true", help="show all containers (default shows just running)")
    parser.add_argument("--no-stream", action="store_true", help="disable streaming stats and only pull the first result")
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")
    parser.set_defaults(func=stats)


def stats(args) -> int:
    from minidocker.container import details, lifecycle, record
    from minidocker.image.format import tabwrite
    if not args.no_stream:
        print("minidocker: only stats --no-stream is supported", file=sys.stderr)
        return 1
    records = [lifecycle.find(name) for name in args.containers] or \
        [lifecycle.find(r["ID"]) for r in record.all_records()]
    rows = ["CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS"]
    for found in records:
        if found["State"]["Status"] in ("running", "paused"):
            rows.append("\t".join(details.stats_row(found)))
    sys.stdout.write(tabwrite(rows))
    return 0
