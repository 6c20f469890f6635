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
JOB, STATS, GROUPING = "harness/runs/job.py", "harness/analysis/stats.py", "harness/runs/grouping.py"
CONTROL_TARGET = "tests/test_controls.py::test_control_arms_report_and_score_a_target_other_than_task_0"
EQUAL = "tests/test_trainer.py::test_the_equal_parameter_arm_matches_all_k_separate_networks_together"
MEAN = "tests/test_stats.py::test_the_reported_gain_is_the_mean_over_seeds_not_the_median"
TIES = "tests/test_grouping.py::test_when_every_partition_ties_the_fewest_networks_are_both_best_and_chosen"

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
    # The survivors of a wider sample (each states what its test guards).
    Mutant(
        "rows_of_network_0",
        TRAINER,
        "rows = s.order[phase].at[net, slot, pos]",
        "rows = s.order[phase].at[0 * net, slot, pos]",
        ("tests/test_trainer.py::test_vmapped_separate_networks_equal_solo_runs",),
    ),
    Mutant(
        "target_scored_on_task_order",
        "harness/train/trainer.py",
        "y_test[..., np.asarray(spec.groups)]",
        "y_test[..., np.sort(np.asarray(spec.groups), axis=-1)]",
        (CONTROL_TARGET,),
    ),
    Mutant(
        "last_partial_chunk_dropped",
        "harness/train/trainer.py",
        "*([steps] if steps % static.eval_every else [])",
        "*([])",
        ("tests/test_trainer.py::test_phases_not_a_multiple_of_eval_every_are_all_trained_and_evaluated",),
    ),
    Mutant(
        "shuffle_control_reports_every_task",
        "harness/arms.py",
        "return self.transfer is not None or self.shuffle_aux",
        "return self.transfer is not None",
        (CONTROL_TARGET,),
    ),
    Mutant(
        "equal_params_to_one_network",
        JOB,
        "target = run.data.tasks * count_params(run, 1, None, input_shape)",
        "target = count_params(run, 1, None, input_shape)",
        (EQUAL,),
    ),
    Mutant(
        "equal_params_is_mtl",
        "harness/arms.py",
        "width = equal_params_width if arm.equal_params else None",
        "width = None",
        (EQUAL,),
    ),
    Mutant(
        "pairs_signal_from_test",
        JOB,
        'out.metrics["pairs"]["val_bce"]',
        'out.metrics["pairs"]["test_bce"]',
        ("tests/test_grouping.py::test_the_pairs_signal_is_read_from_validation_losses_never_test_losses",),
    ),
    Mutant(
        "divergence_reads_step_0",
        JOB,
        'last = np.asarray(out.curves[spec.name]["val_bce"])[:, -1]',
        'last = np.asarray(out.curves[spec.name]["val_bce"])[:, 0]',
        ("tests/test_bad_input.py::test_a_run_that_blows_up_after_step_0_is_diverged_not_ok",),
    ),
    Mutant(
        "median_gain",
        STATS,
        "mean, sd = float(x.mean()), float(x.std(ddof=1))",
        "mean, sd = float(np.median(x)), float(x.std(ddof=1))",
        (MEAN,),
    ),
    Mutant(
        "median_interval_centre",
        STATS,
        "return float(x.mean()), *interval(x, level), n",
        "return float(np.median(x)), *interval(x, level), n",
        (MEAN,),
    ),
    Mutant(
        "grouping_floor_exclusive",
        GROUPING,
        "if stats[i][0] >= floor",
        "if stats[i][0] > floor",
        (TIES,),
    ),
    Mutant(
        "grouping_ties_to_more_networks",
        GROUPING,
        "key=lambda i: (stats[i][0], -len(candidates[i])))",
        "key=lambda i: (stats[i][0], len(candidates[i])))",
        (TIES,),
    ),
    Mutant(
        "grouping_pick_lower_score",
        GROUPING,
        "key=lambda i: (len(candidates[i]), -stats[i][0]),",
        "key=lambda i: (len(candidates[i]), stats[i][0]),",
        ("tests/test_grouping.py::test_among_equally_many_networks_within_the_floor_the_higher_score_is_chosen",),
    ),
    Mutant(
        "hide_floor",
        "harness/data/base.py",
        "hide = int(round(cfg.missing * n))",
        "hide = int(cfg.missing * n)",
        ("tests/test_data.py::test_the_number_of_hidden_labels_is_the_rounded_fraction",),
    ),
    Mutant(
        "noise_stream_shared_across_splits",
        "harness/data/synthetic.py",
        "np.random.default_rng([seed, NOISE, split, k])",
        "np.random.default_rng([seed, NOISE, 0, k])",
        ("tests/test_data.py::test_label_noise_is_drawn_afresh_for_each_split",),
    ),
    Mutant(
        "confirmation_at_005",
        "harness/analysis/verdict.py",
        "confirmed = bool(p < ALPHA)",
        "confirmed = bool(p <= ALPHA)",
        ("tests/test_verdicts.py::test_a_confirming_p_of_exactly_005_does_not_confirm",),
    ),
]


def run(mutant: Mutant, tree: Path) -> str:
    path = tree / mutant.path
    source = path.read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: {mutant.old!r} must occur once in {mutant.path}"
    path.write_text(source.replace(mutant.old, mutant.new))
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "0",
        "-x",
        "-q",
        "-m",
        "not slow",
        "-p",
        "no:cacheprovider",
        *mutant.tests,
    ]
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
