"""`minidocker volume COMMAND`: create, ls, inspect, rm, prune."""
import json
import sys

from minidocker.cli._common import for_each


def _create(args):
    from minidocker.volume import store
    labels = dict(item.partition("=")[::2] for item in args.label)
    print(store.create(args.name, labels)["Name"])


def _ls(args):
    from minidocker.image.format import tabwrite
    from minidocker.volume import store
    volumes = store.all_volumes()
    if args.filter:
        wanted = dict(f.partition("=")[::2] for f in args.filter)
        if "dangling" in wanted:
            dangling = wanted["dangling"].lower() in ("1", "true")
            volumes = [v for v in volumes if (not store.users(v["Name"])) == dangling]
        if "name" in wanted:
            volumes = [v for v in volumes if wanted["name"] in v["Name"]]
    if args.quiet:
        sys.stdout.write("".join(v["Name"] + "\n" for v in volumes))
        return
    sys.stdout.write(tabwrite(["DRIVER\tVOLUME NAME"] + [f"{v['Driver']}\t{v['Name']}" for v in volumes]))


def _inspect(args):
    from minidocker.volume import store
    found, failed = [], 0
    for name in args.volumes:
        try:
            found.append(store.load(name))
        except store.VolumeError:
            print(f"minidocker: No such volume: {name}", file=sys.stderr)
            failed = 1
    if found or not failed:
        print(json.dumps(found, indent=4))
    return failed


def _rm(args):
    from minidocker.volume import store
    return for_each(args.volumes, lambda name: store.remove(name, args.force))


def _prune(args):
    from minidocker.image.format import human_size
    from minidocker.volume import store
    if not args.force:
        what = "all local volumes" if args.all else "anonymous local volumes"
        sys.stdout.write(f"WARNING! This will remove {what} not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed, reclaimed = store.prune(args.all)
    if removed:
        print("Deleted Volumes:\n" + "".join(name + "\n" for name in removed))
    print(f"Total reclaimed space: {human_size(reclaimed)}")


def register(verbs):
    parser = verbs.add_parser("volume", help="Manage volumes", description="Manage volumes")
    parser.set_defaults(func=lambda args: parser.print_help(sys.stderr) or 1)
    commands = parser.add_subparsers(dest="volume_command", metavar="COMMAND", parser_class=type(parser))
    p = commands.add_parser("create", help="Create a volume")
    p.add_argument("name", nargs="?", metavar="VOLUME")
    p.add_argument("--name", dest="name", help=argparse_suppress())
    p.add_argument("-d", "--driver", default="local", choices=("local",), help="specify volume driver name")
    p.add_argument("-l", "--label", action="append", default=[], help="set metadata for a volume")
    p.set_defaults(func=_create)
    p = commands.add_parser("ls", aliases=["list"], help="List volumes")
    p.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
    p.add_argument("-f", "--filter", action="append", default=[], help="provide filter values (e.g. 'dangling=true')")
    p.set_defaults(func=_ls)
    p = commands.add_parser("inspect", help="Display detailed information on one or more volumes")
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    p.set_defaults(func=_inspect)
    p = commands.add_parser("rm", aliases=["remove"], help="Remove one or more volumes")
    p.add_argument("-f", "--force", action="store_true", help="force the removal of one or more volumes")
    p.add_argument("volumes", nargs="+", metavar="VOLUME")
    p.set_defaults(func=_rm)
    p = commands.add_parser("prune", help="Remove unused local volumes")
    p.add_argument("-a", "--all", action="store_true", help="remove all unused volumes, not just anonymous ones")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=_prune)


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS
