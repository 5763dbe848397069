"""`minidocker container COMMAND`: prune, and Docker's aliases of the container verbs."""
import importlib
import sys

ALIASES = ("attach", "create", "exec", "inspect", "kill", "logs", "pause", "ps", "restart", "rm", "start", "stats",
           "stop", "top", "unpause", "wait")


def _prune(args):
    from minidocker.container import lifecycle
    from minidocker.image.format import human_size
    if not args.force:
        sys.stdout.write("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed, reclaimed = lifecycle.prune()
    if removed:
        print("Deleted Containers:\n" + "".join(name + "\n" for name in removed))
    print(f"Total reclaimed space: {human_size(reclaimed)}")


def register(verbs):
    parser = verbs.add_parser("container", help="Manage containers", description="Manage containers")
    parser.set_defaults(func=lambda args: parser.print_help(sys.stderr) or 1)
    commands = parser.add_subparsers(dest="container_command", metavar="COMMAND", parser_class=type(parser))
    prune = commands.add_parser("prune", help="Remove all stopped containers")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=_prune)
    wanted = sys.argv[sys.argv.index("container") + 1:][:1] if "container" in sys.argv else []
    for name in ALIASES if not wanted or wanted[0] not in ALIASES else wanted:   # import only what runs
        importlib.import_module(f"minidocker.cli.{name}").register(commands)
