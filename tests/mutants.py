"""Hand-written one-line mutants of the program, the label views and the table reader, run against their tests.

mutmut (configured in pyproject.toml) covers the small core modules. The program
(harness/train/program.py) is recompiled by every trainer test: mutmut's hundreds of
mutants of it, each recompiling the trainer tests, take hours on 2 cores. These are the plausible bugs
there, the ones that would silently falsify a report.

Usage, from the repository root (about a minute per mutant on 2 cores):
    python tests/mutants.py                 # every mutant
    python tests/mutants.py batch_mask ...  # some, by name
Each mutant is applied to a copy of the tree, so the checkout is never modified. Exit
status 1 if any mutant survived.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 900


class Mutant(NamedTuple):
    name: str
    path: str
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]


TRAINER, TABLE = "harness/train/program.py", "harness/data/table.py"
PROPERTIES, STEP = "tests/test_training_properties.py", "tests/test_weighting_step.py"
HIDDEN = PROPERTIES + "::test_labels_behind_a_question_mark_never_reach_training"
BEST = PROPERTIES + "::test_each_head_reports_the_test_logits_of_its_own_best_validation_step"

MUTANTS = [
    Mutant(
        "batch_mask", TRAINER, "return x, y, m * heads_on[phase]", "return x, y, heads_on[phase] + 0 * m", (HIDDEN,)
    ),
    Mutant(
        "final_logits",
        TRAINER,
        "jnp.where(improved[:, None, :], test_logits, s.best_logits)",
        "test_logits",
        (BEST,),
    ),
    Mutant(
        "best_per_network",
        TRAINER,
        "improved = (val < s.best_val) &",
        "improved = (val.sum(-1, keepdims=True) < s.best_val.sum(-1, keepdims=True)) &",
        (BEST,),
    ),
    Mutant(
        "best_step_off_by_one",
        TRAINER,
        "best_step=jnp.where(improved, end, s.best_step)",
        "best_step=jnp.where(improved, end - 1, s.best_step)",
        (BEST,),
    ),
    Mutant("ignore_pcgrad", TRAINER, 'if self.weighting == "pcgrad":', "if False:", (STEP,)),
    Mutant(
        "uncertainty_unweighted_params",
        TRAINER,
        'return (uncertainty_total(values, v) if self.weighting == "uncertainty" else values.sum()), values',
        "return values.sum() + (uncertainty_total(jax.lax.stop_gradient(values), v)"
        ' if self.weighting == "uncertainty" else 0.0), values',
        (STEP,),
    ),
    Mutant(
        "pcgrad_fixed_order",
        "harness/train/gradients.py",
        "jax.random.permutation(k, tasks)",
        "jnp.arange(tasks)",
        (STEP,),
    ),
    Mutant(
        "finite_never_cleared",
        TRAINER,
        "finite=s.finite & jnp.all(jnp.isfinite(losses)),",
        "finite=s.finite,",
        (PROPERTIES + "::test_a_non_finite_loss_clears_the_finite_flag",),
    ),
    Mutant(
        "no_fresh_optimiser",
        TRAINER,
        "fresh = (s.source_params, s.log_var, jax.vmap(arm.optimizer.init)((s.source_params, s.log_var)))",
        "fresh = (s.source_params, s.log_var, s.opt_state)",
        (PROPERTIES + "::test_fine_tuning_starts_from_a_fresh_optimiser_state",),
    ),
    Mutant(
        "sample_unlabelled_first",
        TRAINER,
        "order=jnp.argsort(-labelled, axis=-1, stable=True)",
        "order=jnp.argsort(labelled, axis=-1, stable=True)",
        ("tests/test_trainer.py::test_training_lowers_the_loss_and_early_stopping_keeps_the_best_step",),
    ),
    Mutant(
        "sample_complete_rows_only",
        TRAINER,
        "labelled = (m[None] * parts.heads_on[:, None, None, :]).max(axis=-1)",
        "labelled = (m[None] * parts.heads_on[:, None, None, :]).min(axis=-1)",
        (PROPERTIES + "::test_partially_labelled_rows_train_every_arm_but_mtl_drop",),
    ),
    Mutant(
        "mtl_zero_keeps_mask",
        "harness/train/labels.py",
        "return y * m, jnp.broadcast_to(any_label, m.shape)",
        "return y * m, m",
        (PROPERTIES + "::test_mtl_zero_trains_every_question_mark_of_a_labelled_row_as_label_0",),
    ),
    Mutant(
        "hash_without_arms_and_model",
        "harness/runs/resume.py",
        'del config["runtime"]',
        'del config["runtime"], config["arms"], config["model"]',
        ("tests/test_config_hash.py",),
    ),
    Mutant("no_one_class_check", TABLE, "if one_class.size:", "if False:", ("tests/test_table_reader.py",)),
    Mutant(
        "no_zero_variance_guard",
        TABLE,
        "std = np.where(std > 0, std, 1.0)",
        "std = std",
        ("tests/test_table_reader.py",),
    ),
    Mutant(
        "cache_ignores_mtime",
        TABLE,
        "stamp = os.path.getmtime(path)",
        "stamp = 0.0",
        ("tests/test_table_reader.py",),
    ),
]


def run(mutant: Mutant, tree: Path) -> str:
    path = tree / mutant.path
    source = path.read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: {mutant.old!r} must occur once in {mutant.path}"
    path.write_text(source.replace(mutant.old, mutant.new))
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow", "-p", "no:cacheprovider", *mutant.tests]
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": "cpu"}
    try:
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        return "survived" if done.returncode == 0 else "killed" if done.returncode == 1 else f"error {done.returncode}"
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        path.write_text(source)


def main(names: list[str]) -> int:
    chosen = [m for m in MUTANTS if not names or m.name in names]
    survived = 0
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        for part in ("harness", "tests", "hydra_plugins", "conf", "experiments"):
            shutil.copytree(ROOT / part, tree / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", tree)
        for mutant in chosen:
            begin = time.perf_counter()
            outcome = run(mutant, tree)
            survived += outcome == "survived"
            print(f"{mutant.name:32s} {outcome:9s} {time.perf_counter() - begin:6.0f} s", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
