"""Errors a user can act on: the file, the field path and what is wrong, in one line."""

from __future__ import annotations

from pydantic import ValidationError


class ScenarioError(Exception):
    """A scenario, rule or targets file is malformed. ``str(err)`` is a one-line message."""

    def __init__(self, path: object, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


#: Prefixes pydantic puts before the message of a validator's own ValueError or assertion.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(msg: str) -> str:
    """A validator's own words, without pydantic's prefix ("Value error, ...")."""
    for prefix in _PYDANTIC_PREFIXES:
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def from_validation(path: object, err: ValidationError, prefix: str = "") -> ScenarioError:
    """Turn a pydantic ValidationError into a ScenarioError naming every bad field."""
    parts = []
    for e in err.errors():
        loc = _loc(tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-"))))
        if prefix:
            loc = f"{prefix}.{loc}" if loc != "(top level)" else prefix
        msg = plain_message(e["msg"])
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; unknown keys are not ignored)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}")
    return ScenarioError(path, "; ".join(parts))
