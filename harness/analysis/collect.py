"""A sweep folder -> the tidy tables every study reads, plus the list of jobs that could not be used.

Works on any folder of result.json files (a Hydra multirun from any launcher, a single
run, or folders copied together): result files are found recursively, and job folders
that Hydra created (they hold `.hydra/`) without a result.json are reported as missing.
Nothing in a bad job stops the collection: it is listed in `Collection.problems` and
skipped. No study reads result files itself; everything it needs is here:

- `table`: one row per job, arm, task, seed and metric (test metrics at each task's best
  validation step, and the reference fields of schema 2 when a record has them);
- `curves`: one row per evaluation, job, arm, network, head and seed (validation loss and
  the network's training loss at that step);
- `affinity`: one row per job, seed and directed task pair (TAG's Z_{i->j});
- `arms`: one row per job and arm (networks, heads, groups, width, parameters);
- `partitions`: one row per job, task and partition of the grouping search (the groups arm):
  each seed's own search (arm "search") and the partition the arm trained (arm "groups",
  seed -1); `group` is the task's group index in that partition.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.runs.results import METRICS, RESULT_FILE, UnreadableResult, read_result

# Columns of the long table besides the swept config keys.
ID_COLUMNS = ("job", "arm", "network", "task", "task_name", "seed", "arm_width", "arm_params")
# Schema 1 has no reference fields; schema 2 adds them (NaN where unknown) and the
# learning rate an arm was trained with.
SCHEMA_VERSIONS = (1, 2)
REFERENCE_FIELDS = ("lr", "undertrained", "constant_bce", "bayes_bce", "bayes_auroc", "learned_bce", "learned_auroc")
VALUE_FIELDS = (*METRICS, *(f for f in REFERENCE_FIELDS if f not in METRICS))
PARTITION_COLUMNS = ("job", "arm", "task", "seed", "group")
CURVE_COLUMNS = ("job", "arm", "network", "head", "task", "seed", "step", "val_bce", "train_loss")


class CollectError(ValueError):
    """The folder holds nothing that can be collected (message is one line)."""


@dataclass
class Problem:
    job: str  # job folder, relative to the sweep folder
    kind: str  # missing | corrupt | failed | diverged | schema | empty
    detail: str


@dataclass
class Collection:
    root: Path
    table: pd.DataFrame  # one row per job, arm, task, seed and metric
    jobs: pd.DataFrame  # one row per usable job: every config key, timing, environment
    swept: list[str]  # config keys (dotted) that vary between usable jobs
    problems: list[Problem] = field(default_factory=list)
    study: str | None = None  # the analysis the jobs' config names (config key `study`)
    experiment: str | None = None  # the experiment file the sweep ran (+experiment=NAME), if any
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CURVE_COLUMNS))
    affinity: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["job", "seed", "i", "j", "z"]))
    arms: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["job", "arm", "networks", "heads"]))
    partitions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PARTITION_COLUMNS))

    @property
    def name(self) -> str:
        """The sweep's name in the report and in its figures' file names."""
        return (self.experiment or self.study or "sweep").rsplit("/", 1)[-1]


def flatten(tree: dict) -> dict:
    """Nested dicts -> {"data.tasks": 8, ...} (pandas' json_normalize); lists become comma-joined strings."""
    flat = pd.json_normalize(tree, sep=".").to_dict("records")[0]
    return {key: ",".join(map(str, v)) if isinstance(v, list) else v for key, v in flat.items()}


def find_jobs(root: Path) -> tuple[list[Path], list[Path]]:
    """(folders holding a result.json, Hydra job folders without one), sorted."""
    with_result, without = [], []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".hydra")
        here = Path(folder)
        if RESULT_FILE in files:
            with_result.append(here)
        elif (here / ".hydra").is_dir() and not (here / "multirun.yaml").exists():
            without.append(here)
    return with_result, without


def _job_name(root: Path, folder: Path) -> str:
    rel = folder.relative_to(root).as_posix()
    return rel if rel != "." else folder.name


def _load(path: Path, job: str) -> tuple[dict | None, Problem | None]:
    """The payload of a usable result file, or why it cannot be used."""
    try:
        payload = read_result(path)
    except UnreadableResult as error:
        return None, Problem(job, "corrupt", str(error))
    version = payload.get("schema_version")
    if version not in SCHEMA_VERSIONS:
        accepted = " or ".join(str(v) for v in SCHEMA_VERSIONS)
        return None, Problem(job, "schema", f"schema_version={version!r}, expected {accepted}")
    status = payload.get("status")
    if status == "diverged":
        where = ", ".join(f"{d.get('arm')} seed {d.get('seed')}" for d in payload.get("diverged", []))
        return None, Problem(job, "diverged", f"non-finite training loss ({where or 'no detail'})")
    if status != "ok":
        return None, Problem(job, "failed", f"status={status!r}: {payload.get('error') or 'no error message'}")
    if not payload.get("records") or not isinstance(payload.get("config"), dict):
        return None, Problem(job, "empty", "status ok but no records or config")
    return payload, None


def _experiment(payload: dict) -> str | None:
    for override in payload.get("overrides") or []:
        key, _, value = str(override).lstrip("+~").partition("=")
        if key == "experiment":
            return value
    return None


def collect(root: str | Path) -> Collection:
    """Read every job under `root` into a Collection; raise CollectError if none is usable."""
    root = Path(root)
    if not root.is_dir():
        raise CollectError(f"{root}: not a folder")
    with_result, without = find_jobs(root)
    problems = [
        Problem(_job_name(root, f), "missing", f"no {RESULT_FILE} (job killed, failed or still running)")
        for f in without
    ]
    problems += _never_started(root, with_result + without)

    jobs, records, curves, affinity, arms, partitions = [], [], [], [], [], []
    studies, experiments = set(), set()
    for folder in with_result:
        name = _job_name(root, folder)
        payload, problem = _load(folder / RESULT_FILE, name)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            config = flatten(payload["config"])
            job_records = _records(name, payload)
            job_arms = _arms(name, payload)
            job_affinity = _affinity(name, payload)
            job_partitions = search_rows(payload, name)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            problems.append(Problem(name, "corrupt", f"malformed records: {type(error).__name__}: {error}"))
            continue
        try:
            curves += _curves(name, payload)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            problems.append(
                Problem(name, "curves", f"job kept, its learning curves left out: {type(error).__name__}: {error}")
            )
        records += job_records
        arms += job_arms
        affinity += job_affinity
        partitions += job_partitions
        studies.add(payload["config"].get("study"))
        experiments.add(_experiment(payload))
        timing = {f"timing.{k}": v for k, v in (payload.get("timing") or {}).items()}
        env = {f"environment.{k}": v for k, v in (payload.get("environment") or {}).items()}
        jobs.append({"job": name, **config, **timing, **env, "created": payload.get("created")})

    if not jobs:
        listed = "; ".join(f"{p.job}: {p.kind}" for p in problems[:5])
        detail = f" ({len(problems)} unusable: {listed})" if problems else ""
        raise CollectError(f"{root}: no usable {RESULT_FILE} found{detail}")

    jobs_df = pd.DataFrame(jobs)
    config_keys = [c for c in jobs_df.columns if c.split(".")[0] in ("arms", "data", "model", "train")]
    swept = [c for c in config_keys if jobs_df[c].astype(str).nunique() > 1]
    table = pd.DataFrame(records).merge(jobs_df[["job", *swept]], on="job", how="left")
    table = table[[*ID_COLUMNS[:1], *swept, *ID_COLUMNS[1:], "metric", "value"]]
    return Collection(
        root,
        table,
        jobs_df,
        swept,
        problems,
        studies.pop() if len(studies) == 1 else None,
        experiments.pop() if len(experiments) == 1 else None,
        pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CURVE_COLUMNS),
        pd.DataFrame(affinity, columns=["job", "seed", "i", "j", "z"]),
        pd.DataFrame(arms),
        pd.DataFrame(partitions, columns=PARTITION_COLUMNS),
    )


def _records(job: str, payload: dict) -> list[dict]:
    """Long rows of one job's records: one per arm, task, seed and value field present."""
    task_names = payload.get("task_names") or []
    arms = payload.get("arms") or {}
    rows = []
    for rec in payload["records"]:
        if not isinstance(rec, dict):
            raise TypeError(f"a record is {type(rec).__name__}, not an object")
        arm = arms.get(rec["arm"], {})
        task = int(rec["task"])
        base = {
            "job": job,
            "arm": rec["arm"],
            "network": int(rec.get("network", 0)),
            "task": task,
            "task_name": task_names[task] if task < len(task_names) else str(task),
            "seed": int(rec["seed"]),
            "arm_width": arm.get("width"),
            "arm_params": arm.get("networks", 1) * arm.get("params_per_network", 0) or None,
        }
        rows += [{**base, "metric": m, "value": _number(rec[m])} for m in VALUE_FIELDS if m in rec]
    return rows


def _number(value) -> float:
    """A record's value as a float; null (an unknown reference) becomes NaN."""
    return float("nan") if value is None else float(value)


def _arms(job: str, payload: dict) -> list[dict]:
    """One row per arm: its description (networks, heads, width, ...), groups a list even when absent."""
    return [
        {"job": job, "arm": arm, **meta, "groups": meta.get("groups") or []}
        for arm, meta in (payload.get("arms") or {}).items()
    ]


def _affinity(job: str, payload: dict) -> list[dict]:
    """Z_{i->j} per seed; the matrix is [seed][i][j]."""
    matrix = (payload.get("affinity") or {}).get("matrix")
    if matrix is None:
        return []
    return [
        {"job": job, "seed": s, "i": i, "j": j, "z": _number(z)}
        for s, rows in enumerate(matrix)
        for i, row in enumerate(rows)
        for j, z in enumerate(row)
    ]


def search_rows(result: dict, job: str) -> list[dict]:
    """Rows of `partitions` from one result.json: arm "search" per seed, arm "groups" the trained partition."""
    per_seed = (result.get("grouping") or {}).get("per_seed", [])
    trained = (result.get("arms") or {}).get("groups", {}).get("groups", [])
    return [
        {"job": job, "arm": arm, "task": int(k), "seed": seed, "group": g}
        for arm, seed, partition in [*(("search", s, p) for s, p in enumerate(per_seed)), ("groups", -1, trained)]
        for g, group in enumerate(partition)
        for k in group
        if k >= 0  # a padding head (harness/arms.py, PAD) is no task
    ]


def _curves(job: str, payload: dict) -> list[pd.DataFrame]:
    """One row per evaluation, arm, network, head and seed.

    `curves.steps` lists the evaluation steps; per arm, val_bce is [S, evals, G, H] and
    train_loss [S, evals, G] (the network's mean training loss since the last evaluation).
    """
    curves = payload.get("curves") or {}
    steps = np.asarray(curves.get("steps") or [], dtype=int)
    arms = payload.get("arms") or {}
    frames = []
    for arm, values in curves.items():
        if arm == "steps" or not isinstance(values, dict) or "val_bce" not in values:
            continue
        val = np.asarray(values["val_bce"], dtype=float)
        if val.ndim != 4 or val.shape[1] != len(steps):
            raise ValueError(f"arm {arm}: val_bce of shape {val.shape} for {len(steps)} evaluation steps")
        train = np.asarray(values.get("train_loss", np.full(val.shape[:3], np.nan)), dtype=float)
        s, e, g, h = (a.ravel() for a in np.indices(val.shape))
        groups = arms.get(arm, {}).get("groups")
        task = np.asarray(groups, dtype=int)[g, h] if groups else h
        frame = {"job": job, "arm": arm, "network": g, "head": h, "task": task, "seed": s, "step": steps[e]}
        frames.append(pd.DataFrame({**frame, "val_bce": val.ravel(), "train_loss": train[s, e, g]}))
    return frames


def _never_started(root: Path, seen: list[Path]) -> list[Problem]:
    """Jobs of a Hydra multirun (per multirun.yaml) whose numbered folder was never created."""
    manifest = root / "multirun.yaml"
    if not manifest.exists():
        return []
    try:
        expected = expected_jobs(manifest)
    except Exception:  # noqa: BLE001 - an unreadable manifest only loses this check
        return []
    present = {f.name for f in seen if f.parent == root}
    return [
        Problem(str(n), "missing", "job never started (no folder)") for n in range(expected) if str(n) not in present
    ]


def expected_jobs(manifest: Path) -> int:
    """How many jobs the multirun in `manifest` (multirun.yaml) launches with the basic sweep grammar."""
    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser

    hydra_cfg = yaml.safe_load(manifest.read_text())["hydra"]  # raw: interpolations stay as written
    if hydra_cfg["sweep"]["subdir"] != "${hydra.job.num}":
        raise ValueError("job folders are not numbered")
    params = hydra_cfg["sweeper"].get("params") or {}
    lines = [f"{k}={v}" for k, v in params.items()] + list(hydra_cfg["overrides"]["task"])
    sizes = {}
    for override in OverridesParser.create().parse_overrides(lines):
        count = len(list(override.sweep_string_iterator())) if override.is_discrete_sweep() else 1
        sizes[override.get_key_element()] = count  # later (command line) wins, as in the sweeper
    total = 1
    for count in sizes.values():
        total *= count
    return total


def write_table(collection: Collection, out: str | Path) -> list[Path]:
    """Write results.csv / results.parquet, curves.parquet, jobs.csv and problems.csv into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.csv", out / "jobs.csv"]
    collection.table.to_csv(written[0], index=False)
    collection.jobs.to_csv(written[1], index=False)
    for name, frame in (("results", collection.table), ("curves", collection.curves)):
        frame.to_parquet(out / f"{name}.parquet", index=False)
        written.append(out / f"{name}.parquet")
    if collection.problems:
        pd.DataFrame([vars(p) for p in collection.problems]).to_csv(out / "problems.csv", index=False)
        written.append(out / "problems.csv")
    return written
