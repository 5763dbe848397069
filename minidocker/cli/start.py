"""`minidocker start`: start one or more stopped containers (`-a`: attach to its output)."""
import sys

from minidocker.cli._common import for_each


def register(verbs):
    parser = verbs.add_parser("start", help="Start one or more stopped containers")
    parser.add_argument("-a", "--attach", action="store_true", help="attach STDOUT/STDERR and forward signals")
    parser.add_argument("-i", "--interactive", action="store_true", help="attach container's STDIN")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=start)


def start(args) -> int:
    from minidocker.container import lifecycle
    if not (args.attach or args.interactive):
        return for_each(args.containers, lifecycle.start)
    if len(args.containers) > 1:
        print("minidocker: you cannot start and attach multiple containers at once", file=sys.stderr)
        return 1
    return lifecycle.start_attached(args.containers[0], args.interactive)
