"""`minidocker logs`: fetch the logs of a container (its json-file log)."""
import os


def register(verbs):
    parser = verbs.add_parser("logs", help="Fetch the logs of a container")
    parser.add_argument("-f", "--follow", action="store_true", help="follow log output")
    parser.add_argument("-n", "--tail", default="all", help='number of lines to show from the end (default "all")')
    parser.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    parser.add_argument("--since", help="show logs since a timestamp or relative time (e.g. 42m)")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(func=logs)


def logs(args) -> int:
    from minidocker.container import lifecycle
    from minidocker.container.logs import logs as read, parse_since
    record = lifecycle.find(args.container)
    since = parse_since(args.since) if args.since else None
    for stream, data in read(record["ID"], args.follow, args.tail, args.timestamps, since):
        os.write(2 if stream == "stderr" else 1, data)
    return 0
