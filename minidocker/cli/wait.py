"""`minidocker wait`: block until one or more containers stop, then print their exit codes."""
from minidocker.cli._common import for_each


def register(verbs):
    parser = verbs.add_parser("wait", help="Block until one or more containers stop, then print their exit codes")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=wait)


def wait(args) -> int:
    from minidocker.container import lifecycle
    return for_each(args.containers, lambda name: print(lifecycle.wait(name), flush=True), echo=False)
