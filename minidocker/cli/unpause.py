"""`minidocker unpause`: unpause all processes within one or more containers (the cgroup freezer)."""
from minidocker.cli._common import for_each


def register(verbs):
    parser = verbs.add_parser("unpause", help="Unpause all processes within one or more containers")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=unpause)


def unpause(args) -> int:
    from minidocker.container import lifecycle
    return for_each(args.containers, lifecycle.unpause)
