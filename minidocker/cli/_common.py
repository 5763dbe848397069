"""What the container verbs share: act on each container named, as the docker CLI does."""
import sys

from minidocker.errors import MinidockerError


def for_each(names, action, echo=True) -> int:
    """Run action(name) for each; print the name as given when it worked, else the error, and
    carry on. Exit status 1 if any failed (the docker CLI's, for every verb but run/create/start)."""
    failed = 0
    for name in names:
        try:
            action(name)
            if echo:
                print(name, flush=True)
        except MinidockerError as error:
            print(f"minidocker: {error}", file=sys.stderr, flush=True)
            failed = 1
    return failed
