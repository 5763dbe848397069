"""`minidocker attach`: attach this terminal's input and output to a running container."""


def register(verbs):
    parser = verbs.add_parser("attach", help="Attach local standard input, output, and error streams to a running container")
    parser.add_argument("--no-stdin", action="store_true", help="do not attach STDIN")
    parser.add_argument("container", metavar="CONTAINER")
    parser.set_defaults(func=attach)


def attach(args) -> int:
    from minidocker.container import lifecycle
    return lifecycle.attach_to(args.container, not args.no_stdin)
