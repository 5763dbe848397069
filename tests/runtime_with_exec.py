"""`python -m minidocker.runtime` plus the verbs chapter 6's second part adds (exec, pause,
resume), glued here until runtime/cli.py registers them: podman's launcher for the tests."""
import sys

from minidocker.errors import MinidockerError
from minidocker.runtime import cli, exec as runtime_exec, pause

parser = cli.build_parser()
verbs = next(action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction")
runtime_exec.register(verbs)
pause.register(verbs)
try:
    args = parser.parse_args(sys.argv[1:])
    module = {"exec": runtime_exec, "pause": pause, "resume": pause}.get(args.verb)
    sys.exit(module.dispatch(args) if module else cli.dispatch(args))
except MinidockerError as error:
    print(f"minidocker-runtime: {error}", file=sys.stderr)
    sys.exit(error.exit_code)
