"""`minidocker create`: create a new container; its supervisor holds it until `start`.

Also the home of Docker's container flags (`add_container_options`, `container_options`), for
`run` to share."""
import argparse
import sys

from minidocker.errors import UsageError


def add_container_options(parser):
    option = parser.add_argument
    option("--help", action="help", help="show this help and exit")
    option("-h", "--hostname", help="container host name (default: its short ID)")
    option("-e", "--env", action="append", default=[], metavar="KEY=VALUE", help="set an environment variable")
    option("--env-file", action="append", default=[], help="read environment variables from a file")
    option("-w", "--workdir", help="working directory inside the container")
    option("--name", help="assign a name to the container")
    option("--rm", action="store_true", help="remove the container when it exits")
    option("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    option("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    option("-u", "--user", help="user[:group], by name or number")
    option("--entrypoint", help="overwrite the image's ENTRYPOINT")
    option("-m", "--memory", help="memory limit (e.g. 64m)")
    option("--memory-swap", help="memory plus swap limit; -1: unlimited swap")
    option("--cpus", help="number of CPUs (e.g. 0.5)")
    option("--pids-limit", type=int, help="maximum number of processes")
    option("-v", "--volume", action="append", default=[], help="bind mount a volume")
    option("--mount", action="append", default=[], help="attach a filesystem mount to the container")
    option("--restart", default="no", help="restart policy: no, on-failure[:max-retries], always, unless-stopped")
    option("--stop-signal", help="signal to stop the container")
    option("--stop-timeout", type=int, help="timeout (in seconds) to stop a container")
    option("image", metavar="IMAGE")
    option("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def read_env_files(paths) -> list:
    items = []
    for path in paths:
        try:
            with open(path) as f:
                items += [line.rstrip("\n") for line in f if line.strip() and not line.lstrip().startswith("#")]
        except OSError as error:
            raise UsageError(f"open {path}: {error.strerror.lower()}") from None
    return items


def container_options(args) -> tuple:
    """Parsed flags -> (RunOptions, extras); every spec is checked before anything is made."""
    from minidocker.cli.run import parse_env
    from minidocker.container import options
    from minidocker.container.run import RunOptions
    from minidocker.volume import mounts
    points = [mounts.parse_volume(v) for v in args.volume] + [mounts.parse_mount(m) for m in args.mount]
    extras = [options.restart_extra(options.restart_policy(args.restart)),
              options.stop_extra(args.stop_signal, args.stop_timeout), mounts.volumes_extra(points)]
    if args.restart != "no" and args.rm:
        raise UsageError("Conflicting options: --restart and --rm")
    if args.memory_swap:
        extras.append(options.memory_swap_extra(args.memory_swap))
    run_options = RunOptions(
        command=args.command, name=args.name, remove=args.rm, tty=args.tty, interactive=args.interactive,
        env=parse_env(read_env_files(args.env_file) + args.env), workdir=args.workdir, hostname=args.hostname,
        user=args.user, entrypoint=args.entrypoint, memory=args.memory, cpus=args.cpus, pids_limit=args.pids_limit)
    return run_options, extras


def register(verbs):
    parser = verbs.add_parser("create", help="Create a new container", add_help=False,
                              usage="minidocker create [OPTIONS] IMAGE [COMMAND] [ARG...]")
    add_container_options(parser)
    parser.set_defaults(func=create)


def create(args) -> int:
    from minidocker.container import lifecycle
    run_options, extras = container_options(args)
    print(lifecycle.create(args.image, run_options, extras)["ID"])
    return 0
