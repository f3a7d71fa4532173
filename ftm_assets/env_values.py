"""Environment variables read as typed values, with errors that name the variable: used by both sides.

The Dagster side (``environment.py``) and the worker (``worker/env.py``) each have one loader of their own
variables; the parsing of one value (text, whole number within bounds, on/off switch) is shared here, so a
bad value reads the same whichever side rejects it. No Dagster import, no worker import.
"""

from __future__ import annotations

from collections.abc import Mapping


class VariableError(ValueError):
    """An environment variable has a value that cannot be used; the message names it and what it must be."""


def read_text(env: Mapping[str, str], name: str) -> str | None:
    """``env[name]`` stripped, None when unset or blank."""
    return (env.get(name) or "").strip() or None


def read_switch(env: Mapping[str, str], name: str) -> bool | None:
    """``env[name]`` as on/off (also true/false, 1/0, yes/no), None when unset; errors name it."""
    text = read_text(env, name)
    if text is None:
        return None
    value = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False,
             "no": False}.get(text.lower())
    if value is None:
        raise VariableError(f"{name}={text!r} is not on or off.")
    return value


def read_int(env: Mapping[str, str], name: str, lo: int, hi: int | None, meaning: str = "") -> int | None:
    """``env[name]`` as a whole number within ``lo..hi`` (None: unbounded), None when unset; errors name it."""
    text = read_text(env, name)
    if text is None:
        return None
    why = f" ({meaning})" if meaning else ""
    try:
        value = int(text)
    except ValueError as exc:
        raise VariableError(f"{name}={text!r} is not a whole number{why}.") from exc
    if value < lo or (hi is not None and value > hi):
        raise VariableError(f"{name}={value} is outside {lo}..{'' if hi is None else hi}{why}.")
    return value
