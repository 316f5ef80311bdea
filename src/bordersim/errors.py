"""Errors a user can act on: the file, the field path and what is wrong, in one line."""

from __future__ import annotations

import re

from pydantic import ValidationError


class ScenarioError(Exception):
    """A scenario, rule or targets file is malformed. ``str(err)`` is a one-line message."""

    def __init__(self, path: object, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


_NAME = re.compile(r"[A-Za-z_][\w-]*")


def _loc(loc: tuple) -> str:
    """A dotted field path; a key that is not a plain name (a typo like ``:end``) is quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = str(part)
            out += ("." if out else "") + (name if _NAME.fullmatch(name) else repr(name))
    return out or "(top level)"


#: Prefixes pydantic puts before the message of a validator's own ValueError or assertion.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(msg: str) -> str:
    """A validator's own words, without pydantic's prefix ("Value error, ...")."""
    for prefix in _PYDANTIC_PREFIXES:
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _kind(value: object) -> str:
    """What a wrong value is, in YAML's words."""
    if value is None:
        return "nothing (an empty value)"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def from_validation(path: object, err: ValidationError, prefix: str = "") -> ScenarioError:
    """Turn a pydantic ValidationError into a ScenarioError naming every bad field."""
    parts = []
    for e in err.errors():
        # pydantic's own steps in the path ("function-after[...]", "[key]" of a bad mapping key) name no field.
        loc = _loc(tuple(x for x in e["loc"] if not (isinstance(x, str) and (x.startswith("function-") or x == "[key]"))))
        if prefix:
            loc = f"{prefix}.{loc}" if loc != "(top level)" else prefix
        msg = plain_message(e["msg"])
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; unknown keys are not ignored)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] in ("model_type", "model_attributes_type", "dict_type"):  # not "instance of RunSettings"
            msg = f"expected a mapping of keys and values, got {_kind(e.get('input'))}"
        elif e["type"] == "list_type":
            msg = f"expected a list, got {_kind(e.get('input'))}"
        parts.append(f"{loc}: {msg}")
    return ScenarioError(path, "; ".join(parts))
