"""docker-compose.yml as data, for tests on a machine with no Docker engine: parse it with PyYAML and
interpolate ``${VAR}`` the way Compose does (``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}``, ``$$`` for a literal ``$``), so a test can see what each service would get."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

PATH = Path(__file__).resolve().parents[1] / "docker-compose.yml"
_REF = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}]*))?\}")


class MissingVariable(KeyError):
    pass


def text() -> str:
    return PATH.read_text(encoding="utf-8")


def load() -> dict:
    return yaml.safe_load(text())


def references(source: str | None = None) -> list[tuple[str, str | None, str | None]]:
    """Every ``${...}`` in the file: (name, operator or None, argument or None)."""
    return [(m["name"], m["op"], m["arg"]) for m in _REF.finditer(source or text()) if m["name"]]


def interpolate(value: str, env: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m["name"], m["op"], m["arg"]
        current = env.get(name)
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise MissingVariable(f"{name}: {arg}")
            return current
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if current is not None else arg
        return current or ""

    return _REF.sub(sub, value)


def service_environment(service: str, env: dict[str, str]) -> dict[str, str]:
    """The environment Compose would give one service, interpolated with ``env``."""
    spec = load()["services"][service].get("environment") or {}
    if isinstance(spec, list):
        spec = dict(item.split("=", 1) for item in spec)
    return {key: interpolate(str(value), env) for key, value in spec.items()}
