"""`minidocker stop`: stop one or more running containers (the stop signal, then SIGKILL)."""
from minidocker.cli._common import for_each


def register(verbs):
    parser = verbs.add_parser("stop", help="Stop one or more running containers")
    parser.add_argument("-s", "--signal", help="signal to send to the container")
    parser.add_argument("-t", "--time", "--timeout", dest="time", type=int,
                        help="seconds to wait before killing the container (default 10)")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")
    parser.set_defaults(func=stop)


def stop(args) -> int:
    from minidocker.container import lifecycle
    return for_each(args.containers, lambda name: lifecycle.stop(name, args.time, args.signal))
