"""train.groups: a partition of the tasks, written as task indices or task names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.config.errors import ConfigError, check


def resolve_groups(groups: Any, tasks: int, names: Sequence[str]) -> tuple[tuple[int, ...], ...]:
    """train.groups as task indices: each group sorted, groups ordered by their first task.

    Entries are task indices or task names (`names`, the suite's); every task must be in
    exactly one group.
    """
    shape = "a non-empty list of groups, each a non-empty list of task indices or names"
    check(isinstance(groups, list | tuple) and len(groups) > 0, "train.groups", groups, shape)
    for g, group in enumerate(groups):
        check(isinstance(group, list | tuple), "train.groups", groups, shape)
        check(len(group) > 0, "train.groups", groups, f"non-empty groups (group {g} is empty)")
    index = {name: k for k, name in enumerate(names)}
    where: dict[int, int] = {}
    for g, group in enumerate(groups):
        for entry in group:
            if isinstance(entry, str) and entry in index:
                task = index[entry]
            elif isinstance(entry, int) and not isinstance(entry, bool) and 0 <= entry < tasks:
                task = entry
            else:
                known = f" or one of {', '.join(names)}" if names else ""
                raise ConfigError(f"train.groups: unknown task {entry!r}; expected an index in [0, {tasks - 1}]{known}")
            check(task not in where, "train.groups", groups, f"each task in one group ({names[task]} is in two)")
            where[task] = g
    missing = [names[k] for k in range(tasks) if k not in where]
    check(not missing, "train.groups", groups, f"every task in a group ({', '.join(missing)} in none)")
    return tuple(sorted(tuple(sorted(k for k in where if where[k] == g)) for g in range(len(groups))))
