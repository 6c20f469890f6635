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


def missing_option(error: BaseException) -> str | None:
    """Hydra's missing config-group option (`experiment=capacty`) as one line with the nearest option."""
    import difflib

    from hydra.errors import MissingConfigException

    if not isinstance(error, MissingConfigException) or not error.missing_cfg_file or error.options is None:
        return None
    group, _, name = str(error.missing_cfg_file).partition("/")  # experiment/full/capacty: group experiment
    folder = name.rpartition("/")[0]
    options = [f"{folder}/{o}" if folder else o for o in error.options]
    near = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    hint = f"; did you mean {group}={near[0]}?" if near else ""
    return f"{group}={name} does not exist{hint} options: {', '.join(options)}"


def one_line(error: BaseException) -> str:
    if isinstance(error, ConfigError):
        return str(error)
    missing = missing_option(error)
    if missing:
        return _printable(missing)
    cause = error.__cause__ or error.__context__
    for candidate in (error, cause):
        full_key = getattr(candidate, "full_key", None)
        if full_key and isinstance(candidate, ConfigKeyError | ConfigAttributeError):
            section, _, _ = str(full_key).rpartition(".")
            return unknown_key(str(full_key))
        if full_key:
            detail = str(candidate).splitlines()[0]
            return f"{full_key}: {_printable(detail)}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = " ".join(lines[:2]) if lines else type(error).__name__
    return f"{type(error).__name__}: {_printable(detail)}"


def dotted_keys() -> list[str]:
    """Every key a user can set: `section.key` for the schema's sections, the top-level ones as they are."""
    keys = []
    for top in schema_keys() or []:
        inner = schema_keys(top)
        keys += [f"{top}.{key}" for key in inner] if inner else [top]
    return keys


def closest_key(key: str) -> str | None:
    """The accepted key nearest a misspelt one, by the whole dotted name or by its last part
    (`seeds` -> `train.seeds`); None when nothing is close."""
    import difflib

    def likeness(candidate: str) -> float:
        whole = difflib.SequenceMatcher(None, key, candidate).ratio()
        last = difflib.SequenceMatcher(None, key.rpartition(".")[2], candidate.rpartition(".")[2]).ratio()
        return max(whole, last)

    best = max(dotted_keys(), key=likeness)
    return best if likeness(best) >= 0.75 else None


def unknown_key(key: str) -> str:
    """`unknown config key 'train.seedz'; did you mean train.seeds? accepted: ...`."""
    section = key.rpartition(".")[0]
    accepted = schema_keys(section) if section else [k + (".*" if schema_keys(k) else "") for k in schema_keys() or []]
    near = closest_key(key)
    hint = f"; did you mean {near}?" if near else ""
    listed = (
        f" accepted{' in ' + section if section else ' at the top level'}: {', '.join(accepted)}" if accepted else ""
    )
    return f"unknown config key '{key}'{hint}{';' if listed and not near else ''}{listed}"


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
