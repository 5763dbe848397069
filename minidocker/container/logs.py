"""`logs`: read the json-file log the supervisor writes, while the container runs or after;
`--tail`, `--since`, `-t`, and `-f`, which follows until the container stops for good."""
import datetime
import json
import re
import time

from minidocker.container import status as _status
from minidocker.errors import UsageError

DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$")
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_since(text: str, now: float | None = None) -> float:
    """Docker's --since/--until: a Go duration (10m, 1h30m) before now, a Unix time, or RFC 3339."""
    now = time.time() if now is None else now
    if DURATION.match(text):
        return now - sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text))
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return timestamp(text if re.search(r"Z|[+-]\d\d:\d\d$", text) or "T" not in text else text + "Z")
    except ValueError:
        raise UsageError(f'invalid value for "since": failed to parse value as time or duration: "{text}"') from None


def timestamp(text: str) -> float:
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))      # Go's nanoseconds
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _entry(line: bytes):
    try:
        entry = json.loads(line)
        return entry["stream"], entry["log"], entry["time"]
    except (ValueError, KeyError, TypeError):
        return None                       # a line being written right now, or damaged


def _shown(lines, since, timestamps):
    for line in lines:
        entry = _entry(line)
        if entry and (since is None or timestamp(entry[2]) >= since):
            stream, text, moment = entry
            yield stream, ((f"{moment} " if timestamps else "") + text).encode()


def logs(container_id: str, follow=False, tail="all", timestamps=False, since=None):
    """(stream, bytes) for each logged line; with `follow`, new ones until the container ends."""
    if tail != "all" and not str(tail).lstrip("-").isdigit():
        raise UsageError(f'invalid value for "tail": "{tail}"')
    try:
        log = open(_status.log_path(container_id), "rb")
    except FileNotFoundError:
        return
    with log:
        *lines, partial = log.read().split(b"\n")
        if tail != "all" and int(tail) >= 0:
            lines = lines[len(lines) - int(tail):] if int(tail) else []
        yield from _shown(lines, since, timestamps)
        while follow:
            ended = not _status.supervised(container_id)    # looked at before reading: nothing is lost
            chunk = log.read()
            if chunk:
                *lines, partial = (partial + chunk).split(b"\n")
                yield from _shown(lines, since, timestamps)
            elif ended:
                return
            else:
                time.sleep(0.05)
