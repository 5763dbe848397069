"""`minidocker exec`: execute a command in a running container."""
import argparse
import os

from minidocker.errors import UsageError


def register(verbs):
    parser = verbs.add_parser("exec", help="Execute a command in a running container")
    parser.add_argument("-d", "--detach", action="store_true", help="detached mode: run command in the background")
    parser.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    parser.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    parser.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    parser.add_argument("-u", "--user", help="username or UID (format: <name|uid>[:<group|gid>])")
    parser.add_argument("-w", "--workdir", help="working directory inside the container")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    parser.set_defaults(func=exec_)


def exec_(args) -> int:
    from minidocker.cli.run import parse_env
    from minidocker.container import lifecycle
    from minidocker.errors import MinidockerError
    if not args.command:
        raise UsageError('"minidocker exec" requires at least 2 arguments')
    if args.interactive and args.tty and not os.isatty(0):
        raise UsageError("the input device is not a TTY")
    if not args.interactive or args.detach:      # as Docker: no stdin unless -i
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    try:
        return lifecycle.exec_in(args.container, args.command, args.detach, args.tty, parse_env(args.env),
                                 args.user, args.workdir)
    except MinidockerError as error:
        if error.exit_code == 125:        # the docker CLI: 1 for a daemon's error, 126/127 for the command
            error.exit_code = 1
        raise
