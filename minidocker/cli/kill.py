"""`minidocker kill`: send a signal (SIGKILL by default) to one or more running containers."""
from minidocker.cli._common import for_each


def register(verbs):
    parser = verbs.add_parser("kill", help="Kill one or more running containers")
    parser.add_argument("-s", "--signal", default="KILL", help="signal to send to the container (default KILL)")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=kill)


def kill(args) -> int:
    from minidocker.container import lifecycle
    return for_each(args.containers, lambda name: lifecycle.kill(name, args.signal))
