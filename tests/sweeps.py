"""Shared pieces of the end-to-end sweep tests: a tiny sweep, its command, and comparisons of its results."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from harness.config import from_omegaconf, register_schema
from harness.config.locations import conf_dir
from harness.runs.results import RESULT_FILE

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = str(conf_dir())
TINY = [
    "train.steps=20",
    "train.eval_every=10",
    "train.seeds=2",
    "model.width=8",
    "data.tasks=2",
    "data.dim=8",  # above data.shared_features=4: the features family (capacity) needs it
    "data.pool=64",
    "data.n_per_task=32",
    "data.n_val=16",
    "data.n_test=32",
    "runtime.progress=false",
]


def records(sweep: Path) -> dict[int, list[dict]]:
    out = {}
    for path in sorted(sweep.glob(f"*/{RESULT_FILE}")):
        result = json.loads(path.read_text())
        assert result["status"] == "ok"
        out[int(path.parent.name)] = result["records"]
    return out


def assert_same_records(a: dict[int, list[dict]], b: dict[int, list[dict]]) -> None:
    assert a.keys() == b.keys()
    for job in a:
        assert len(a[job]) == len(b[job])
        for x, y in zip(a[job], b[job], strict=True):
            assert {k: x[k] for k in ("arm", "task", "network", "seed")} == {
                k: y[k] for k in ("arm", "task", "network", "seed")
            }
            for name in ("test_bce", "test_acc", "test_auroc", "val_bce"):
                assert x[name] == pytest.approx(y[name], rel=1e-4, abs=1e-5), (job, name)


def assert_nothing_corrupt(sweep: Path) -> None:
    import yaml

    assert not [p for p in sweep.rglob("*") if p.name.endswith(".tmp")]
    for path in sweep.rglob("*.json"):
        json.loads(path.read_text())
    for path in sweep.rglob("*.yaml"):
        yaml.safe_load(path.read_text())


# Six jobs that differ only in values: one compiled program for all of them.
# A small run that trains in seconds, for the input checks (the memory estimate and the CLI).
SMALL_RUN = [
    "data.tasks=3",
    "model.width=4",
    "train.steps=50",
    "train.eval_every=25",
    "data.n_val=100",
    "data.n_test=200",
]
SWEEP = ["-m", "data.relatedness=0.1,0.9", "train.lr=0.003,0.01,0.03", *TINY]


def cli_command(sweep: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "harness.run",
        *SWEEP,
        f"hydra.sweep.dir={sweep}",
        f"runtime.cache_dir={cache}",
        *extra,
    ]


def sweep(name: str):
    """Experiment NAME composed, and every job's overrides as the basic sweeper expands them."""
    register_schema()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={name}"], return_hydra_config=True)
    lines = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    parsed = OverridesParser.create().parse_overrides(lines)
    axes = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [f"{o.get_key_element()}={o.get_value_element_as_str()}"]  # a single value, e.g. data.tasks: 4
        for o in parsed
    ]
    return cfg, [list(job) for job in itertools.product(*axes)]


def job_runs(name: str):
    """Every job of experiment NAME as a validated RunConfig (raises ConfigError on a bad one)."""
    cfg, jobs = sweep(name)
    return [from_omegaconf(OmegaConf.merge(cfg, OmegaConf.from_dotlist(job))) for job in jobs]


HOLDER = (
    "import sys, time; from pathlib import Path; from harness.runs import sweep_lock; "
    "sweep_lock.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(120)"
)


def hold(folder: Path) -> subprocess.Popen:
    """Another process that holds the folder's lock until killed."""
    other = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "held"
    return other


def flat(markdown: str) -> str:
    """Markdown with each run of spaces as one: a table row as `| a | b |`, whatever its column widths."""
    return re.sub(r" {2,}", " ", markdown)
