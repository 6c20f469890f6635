"""One-line messages for configuration errors raised by the harness, Hydra or OmegaConf, and
short excerpts of the values they quote."""

from __future__ import annotations

from typing import Any

from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from harness.config.schema import schema_keys


class ConfigError(ValueError):
    """A configuration value the harness cannot run with (message is one line)."""


def check(ok: bool, key: str, value: Any, accepted: str) -> None:
    """Raise `key=value is not accepted; expected accepted` unless `ok`."""
    if not ok:
        shown = repr(value)  # repr escapes control characters: the message stays one line
        shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
        raise ConfigError(f"{key}={shown} is not accepted; expected {accepted}")


def one_line(error: BaseException) -> str:
    if isinstance(error, ConfigError):
        return str(error)
    cause = error.__cause__ or error.__context__
    for candidate in (error, cause):
        full_key = getattr(candidate, "full_key", None)
        if full_key and isinstance(candidate, ConfigKeyError | ConfigAttributeError):
            section, _, _ = str(full_key).rpartition(".")
            accepted = schema_keys(section)
            hint = f"; accepted: {', '.join(accepted)}" if accepted else ""
            return f"unknown config key '{full_key}'{hint}"
        if full_key:
            detail = str(candidate).splitlines()[0]
            return f"{full_key}: {_printable(detail)}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = " ".join(lines[:2]) if lines else type(error).__name__
    return f"{type(error).__name__}: {_printable(detail)}"


# Hydra and OmegaConf quote the offending value whole; an exception may quote anything.
DETAIL_LIMIT = 300


def _printable(text: str) -> str:
    short = text if len(text) <= DETAIL_LIMIT else f"{text[: DETAIL_LIMIT - 3]}..."
    return "".join(c if c.isprintable() else "?" for c in short)


def excerpt(value: object, limit: int = 24) -> str:
    """A short, printable, quoted excerpt of a value for an error message.

    Messages name a cell or a file's header, never quote a whole line: a file that is
    not a table would otherwise put its first line (or all of it) on the terminal.
    """
    text = str(value)
    short = repr(text[:limit])  # repr escapes control and non-printable characters
    return f"{short}..." if len(text) > limit else short
