"""Helpers for the lifecycle and volume tests (their `docker` fixture is in conftest.py)."""
import json


def inspect(docker, name, template="{{json .State}}"):
    result = docker("inspect", "-f", template, name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if template.startswith("{{json") else result.stdout.strip()


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout
