"""`minidocker top`: display the running processes of a container."""
import sys


def register(verbs):
    parser = verbs.add_parser("top", help="Display the running processes of a container")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("ps_args", nargs="*", metavar="[ps OPTIONS]")
    parser.set_defaults(func=top)


def top(args) -> int:
    from minidocker.container import details, lifecycle
    sys.stdout.write(details.top(lifecycle.find(args.container), args.ps_args or None))
    return 0
