"""`minidocker inspect`: low-level information on containers or images, as JSON."""
import sys


def register(verbs):
    parser = verbs.add_parser("inspect", help="Return low-level information on Docker objects")
    parser.add_argument("-f", "--format", help="format the output using the given Go template")
    parser.add_argument("--type", choices=("container", "image"), help="only this type of object")
    parser.add_argument("names", nargs="+", metavar="NAME|ID")
    parser.set_defaults(func=inspect)


def inspect(args) -> int:
    if args.type == "image":
        from minidocker.image.details import inspect as inspect_images
        sys.stdout.write(inspect_images(args.names, args.format))
        return 0
    from minidocker.container.details import inspect as inspect_objects
    sys.stdout.write(inspect_objects(args.names, args.format))
    return 0
