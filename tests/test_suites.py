"""The scenes, digits and table suites: shapes, label rates, masks, splits, file errors, end to end."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from sweeps import CONF_DIR

from harness.config import ConfigError, DataConfig, ModelConfig, from_omegaconf
from harness.data import digits, make_dataset, make_replicates, scenes, table, task_names
from harness.train.models import CNN, Conv3x3, make_model, max_pool_2x2

ROOT = Path(__file__).resolve().parent.parent


def run_config(**sections) -> object:
    """A validated RunConfig from plain dicts, as Hydra would compose it."""
    return from_omegaconf(dict(sections))


# --- scenes -------------------------------------------------------------------------


def scenes_cfg(**kw) -> DataConfig:
    base = dict(suite="scenes", tasks=6, image_size=16, pool=300, n_val=40, n_test=50, noise=0.05, n_per_task=200)
    return DataConfig(**{**base, **kw})


def test_scenes_shapes_rates_and_mask():
    cfg = scenes_cfg(frequency=0.4, missing=0.25)
    d = make_dataset(cfg, 0)
    assert d.x_train.shape == (300, 16, 16, 3) and d.x_train.dtype == np.float32
    assert d.x_val.shape == (40, 16, 16, 3) and d.x_test.shape == (50, 16, 16, 3)
    assert d.y_train.shape == d.m_train.shape == (300, 6)
    assert d.x_train.min() >= 0.0 and d.x_train.max() <= 1.0
    assert set(np.unique(d.y_train)) == {0.0, 1.0}
    assert np.abs(d.y_train.mean(0) - 0.4).max() < 0.12
    # The label budget is harness.data.base.label_mask: 200 rows per task, a quarter hidden.
    np.testing.assert_array_equal(d.m_train.sum(0), np.full(6, 150.0))
    assert d.m_train[200:].sum() == 0
    assert task_names(cfg) == ["pedestrian", "car", "stop_sign", "traffic_light", "shape4", "shape5"]


def test_scenes_frequencies_per_type_and_paired_backgrounds():
    cfg = scenes_cfg(tasks=4, frequencies=[0.0, 1.0, 0.0, 1.0])
    d = make_dataset(cfg, 1)
    np.testing.assert_array_equal(d.y_test.mean(0), [0.0, 1.0, 0.0, 1.0])
    # Presence is uniform < frequency on draws that do not depend on it: with no object at
    # all, the same seed gives the same backgrounds, and the images differ only where drawn.
    empty = make_dataset(dataclasses.replace(cfg, frequencies=[0.0] * 4), 1)
    changed = np.abs(d.x_test - empty.x_test).max(axis=-1) > 0
    assert changed.any(axis=(1, 2)).all()
    assert changed.mean() < 0.5


@pytest.mark.parametrize("kind", range(6))
def test_scenes_known_object_alone_is_drawn_and_labelled(kind):
    """Render object type `kind` alone on a noise-free scene: it changes pixels, its label is 1."""
    present = np.zeros((8, 6), dtype=bool)
    present[:, kind] = True
    alone = scenes.render(present, 32, 0.0, np.random.default_rng(3))
    background = scenes.render(np.zeros_like(present), 32, 0.0, np.random.default_rng(3))
    drawn = np.abs(alone - background).max(axis=-1) > 0.05
    assert drawn.any(axis=(1, 2)).all(), "every labelled object is visible in its picture"
    cfg = scenes_cfg(frequencies=[1.0 if k == kind else 0.0 for k in range(6)])
    y = make_dataset(cfg, 0).y_train
    np.testing.assert_array_equal(y, np.broadcast_to(np.eye(6)[kind], y.shape))


def test_scenes_generated_types_are_distinct_and_fixed():
    looks = [repr(scenes.shape(k)) for k in range(104)]
    assert len(set(looks)) == 104
    assert repr(scenes.shape(50)) == looks[50]  # a type's look depends on its index only
    assert make_dataset(scenes_cfg(tasks=100, frequency=0.05, pool=50, n_per_task=50), 0).y_train.shape == (50, 100)


# --- digits -------------------------------------------------------------------------


def digits_cfg(**kw) -> DataConfig:
    base = dict(suite="digits", tasks=10, pool=400, n_val=60, n_test=80, n_per_task=300)
    return DataConfig(**{**base, **kw})


def test_digits_shapes_rates_and_mask():
    cfg = digits_cfg(grid=2, blank=0.25, missing=0.5)
    d = make_dataset(cfg, 0)
    assert d.x_train.shape == (400, 16, 16, 1) and d.x_test.shape == (80, 16, 16, 1)
    assert d.y_train.shape == (400, 10)
    expected = 1 - (1 - 0.75 * 0.1) ** 4  # four cells, each a given digit with probability 0.075
    assert abs(d.y_train.mean() - expected) < 0.05
    np.testing.assert_array_equal(d.m_train.sum(0), np.full(10, 150.0))
    assert task_names(cfg) == [f"digit_{k}" for k in range(10)]
    assert make_dataset(digits_cfg(grid=3), 0).x_train.shape == (400, 24, 24, 1)


def test_digits_pools_share_no_source_image():
    cfg = digits_cfg()
    train, val, test = digits.source_split(cfg, 5)
    assert not (set(train) & set(test)) and not (set(train) & set(val)) and not (set(val) & set(test))
    images, targets = digits.source()
    pixels = images.reshape(len(images), -1)
    train_pixels = {row.tobytes() for row in pixels[train]}
    assert not any(row.tobytes() in train_pixels for row in pixels[test]), "no identical image across pools"
    mosaic, labels, cells = digits.compose(cfg, test, 50, np.random.default_rng(0))
    used = cells[cells >= 0]
    assert set(used) <= set(test)
    # Each cell of a mosaic is its source image, and the labels are the digits placed.
    first = np.argwhere(cells[:, 0, 0] >= 0)[0, 0]
    np.testing.assert_array_equal(mosaic[first, :8, :8, 0], images[cells[first, 0, 0]])
    for i in range(50):
        placed = set(targets[cells[i][cells[i] >= 0]])
        assert set(np.flatnonzero(labels[i])) == placed


def test_digits_need_ten_tasks():
    with pytest.raises(ConfigError, match="data.tasks=4 .*10 for data.suite=digits"):
        run_config(data={"suite": "digits", "tasks": 4})


# --- table --------------------------------------------------------------------------

MARKED = """\
f1,f2,name,a,b,c
1.0,10,x,yes,1,true
2.0,11,x,no,0,false
3.0,12,y,?,1,TRUE
4.0,13,y,1,,0
5.0,14,z,0,NaN,No
6.0,15,z,YES,0,
"""
# Rows 2..5 miss one label each; the 34 generated rows after them are complete.
GENERATED = np.random.default_rng(0).integers(0, 2, size=(34, 3))
CSV = MARKED + "".join(f"{7 + i}.5,{i % 5},z,{a},{b},{c}\n" for i, (a, b, c) in enumerate(GENERATED))
OBSERVED = np.ones((40, 3), dtype=bool)
OBSERVED[2, 0] = OBSERVED[3, 1] = OBSERVED[4, 1] = OBSERVED[5, 2] = False
Y = np.concatenate([[[1, 1, 1], [0, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 0], [1, 0, 0]], GENERATED]).astype(np.float32)


def table_cfg(path, **kw) -> DataConfig:
    base = dict(suite="table", path=str(path), labels=["a", "b", "c"], tasks=3, n_per_task=0)
    base.update(val_fraction=0.25, test_fraction=0.25)
    return DataConfig(**{**base, **kw})


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text(CSV)
    return path


def test_table_missing_labels_round_trip_into_mask(csv_path):
    cfg = table_cfg(csv_path)
    parsed = table.load(cfg)
    np.testing.assert_array_equal(parsed.observed, OBSERVED)
    np.testing.assert_array_equal(parsed.y, Y * OBSERVED)
    assert parsed.features == ("f1", "f2")  # every other numeric column; 'name' is text
    for seed in (0, 1):
        d = make_dataset(cfg, seed)
        train, val, test = table.split_rows(cfg, parsed, seed)
        assert len(train) == 22 and len(val) == len(test) == 9  # a quarter each of the 36 complete rows
        assert set(range(2, 6)) <= set(train), "partially labelled rows are training rows"
        np.testing.assert_array_equal(d.m_train, OBSERVED[train].astype(np.float32))
        np.testing.assert_array_equal(d.y_train, (Y * OBSERVED)[train])
        np.testing.assert_array_equal(d.y_test, Y[test])
        np.testing.assert_allclose(d.x_train.mean(0), 0.0, atol=1e-6)
        np.testing.assert_allclose(d.x_train.std(0), 1.0, atol=1e-5)
    assert task_names(cfg) == ["a", "b", "c"]


def test_table_parquet_and_label_budget(csv_path, tmp_path):
    frame = pd.read_csv(csv_path)
    parquet = tmp_path / "small.parquet"
    frame.to_parquet(parquet)
    cfg = table_cfg(parquet, features=["f1"], n_per_task=3, missing=1 / 3)
    d = make_dataset(cfg, 0)
    assert d.x_train.shape == (22, 1)
    np.testing.assert_array_equal(d.m_train.sum(0), [2, 2, 2])  # 3 kept per task, 1 of them hidden
    assert np.all(d.m_train <= OBSERVED[table.split_rows(cfg, table.load(cfg), 0)[0]])
    available = int(OBSERVED[table.split_rows(cfg, table.load(cfg), 0)[0], 1].sum())
    with pytest.raises(ConfigError, match=f"column 'b' \\(label\\) has {available} labelled training rows, fewer than"):
        make_dataset(table_cfg(csv_path, n_per_task=available + 1), 0)


def test_table_tasks_follow_the_label_columns(csv_path):
    run = run_config(data={"suite": "table", "path": str(csv_path), "labels": ["a", "b"], "tasks": 0})
    assert run.data.tasks == 2
    with pytest.raises(ConfigError, match="data.tasks=5 is not accepted; expected 0 or 2"):
        run_config(data={"suite": "table", "path": str(csv_path), "labels": ["a", "b"], "tasks": 5})
    with pytest.raises(ConfigError, match="data.labels=None"):
        run_config(data={"suite": "table", "path": str(csv_path), "tasks": 0})


BAD_FILES = {
    "missing file": (None, {}, "file not found"),
    "empty file": ("", {}, "the file is empty"),
    "no rows": ("f1,a,b,c\n", {}, "no data rows"),
    "unknown label column": (CSV, {"labels": ["a", "b", "zz"]}, "column 'zz' (data.labels) is not in the file"),
    "unknown feature column": (CSV, {"features": ["f9"]}, "column 'f9' (data.features) is not in the file"),
    "bad label value": (CSV.replace("yes,1,true", "maybe,1,true"), {}, "column 'a' (label) has values other than"),
    "no labelled rows": ("f1,a,b,c\n1,,1,0\n2,?,0,1\n", {}, "column 'a' (label) has no labelled rows"),
    "non-numeric feature": (CSV, {"features": ["f1", "name"]}, "column 'name' (feature), row 1: 'x' is not a number"),
    "empty feature cell": (CSV.replace("3.0,12", "3.0,"), {}, "column 'f2' (feature) has 1 empty cells"),
    "too few complete rows": (MARKED, {}, "only 2 rows have every label"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_table_malformed_file_one_line_error(case, tmp_path):
    text, overrides, problem = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as error:
        make_dataset(table_cfg(path, **overrides), 0)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and problem in message


@pytest.mark.slow
def test_table_bad_file_exits_with_one_line_and_no_result(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CSV.replace("yes,1,true", "maybe,1,true"))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.run", "data=table", f"data.path={path}", "data.labels=[a,b,c]"]
        + [f"hydra.run.dir={out}", "runtime.progress=false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path}: column 'a' (label) has values other than 0/1, true/false, " + (
        "yes/no or missing: 'maybe'"
    )
    assert not out.exists()


# --- the CNN and the config ----------------------------------------------------------


def test_cnn_vmaps_over_networks_without_state():
    model = make_model(ModelConfig(kind="cnn", width=4, depth=3), heads=5)
    assert isinstance(model, CNN)
    x = jnp.ones((7, 16, 16, 3))
    params = jax.vmap(model.init, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(0), 3), x[:1])
    assert set(params) == {"params"}  # no batch statistics
    assert jax.vmap(model.apply, in_axes=(0, None))(params, x).shape == (3, 7, 5)


def test_patch_convolution_and_pooling_match_flax():
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 7, 9, 3))  # odd sizes: padding and cropping
    conv = Conv3x3(5)
    params = conv.init(jax.random.PRNGKey(2), x)
    reference = nn.Conv(5, (3, 3), padding="SAME")
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, reference.init(jax.random.PRNGKey(2), x))
    params = jax.tree.map(lambda a: a + 0.1, params)  # a nonzero bias too
    np.testing.assert_allclose(conv.apply(params, x), reference.apply(params, x), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(max_pool_2x2(x), nn.max_pool(x, (2, 2), strides=(2, 2)))


def test_cnn_needs_images():
    with pytest.raises(ConfigError, match="model.kind='cnn' is not accepted; expected mlp for data.suite=synthetic"):
        run_config(model={"kind": "cnn"})


@pytest.mark.parametrize("suite", ["scenes", "digits", "table"])
def test_hydra_composes_each_suite(suite):
    from hydra import compose, initialize_config_dir

    from harness.config import register_schema

    register_schema()
    extra = ["data.path=x.csv", "data.labels=[a,b]"] if suite == "table" else ["model=cnn"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        run = from_omegaconf(compose("config", overrides=[f"data={suite}", *extra]))
    assert run.data.suite == suite
    assert run.data.tasks == {"scenes": 4, "digits": 10, "table": 2}[suite]


# --- end to end -----------------------------------------------------------------------


def tiny(data: dict, model: dict) -> object:
    train = {"steps": 20, "eval_every": 10, "batch_size": 8, "seeds": 1}
    return run_config(arms=["mtl", "stl"], data=data, model=model, train=train, runtime={"progress": False})


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["scenes", "digits", "table"])
def test_tiny_run_of_each_suite_with_both_arms(suite, csv_path):
    from harness.runs.job import run_job

    small = {"pool": 64, "n_per_task": 48, "n_val": 16, "n_test": 32, "missing": 0.25}
    data = {
        "scenes": {"suite": "scenes", "tasks": 5, "image_size": 16, "frequency": 0.5, **small},
        "digits": {"suite": "digits", "tasks": 10, **small},
        "table": {"suite": "table", "path": str(csv_path), "labels": ["a", "b", "c"], "tasks": 0, "n_per_task": 0}
        | {"val_fraction": 0.25, "test_fraction": 0.25},
    }[suite]
    model = {"kind": "mlp", "width": 8, "depth": 1} if suite == "table" else {"kind": "cnn", "width": 4, "depth": 1}
    run = tiny(data, model)
    result = run_job(run, progress=False)
    assert result["status"] == "ok"
    tasks = run.data.tasks
    for arm, networks in (("mtl", 1), ("stl", tasks)):
        rows = [r for r in result["records"] if r["arm"] == arm]
        assert sorted(r["task"] for r in rows) == list(range(tasks))
        assert result["arms"][arm]["networks"] == networks
        assert all(np.isfinite(r["test_bce"]) for r in rows)
    assert result["task_names"] == task_names(run.data)


def test_replicates_stack_with_their_own_draws(csv_path):
    d = make_replicates(table_cfg(csv_path), 2)
    assert d.x_train.shape == (2, 22, 2)
    assert not np.array_equal(d.y_test[0], d.y_test[1]) or not np.array_equal(d.x_test[0], d.x_test[1])


def test_sample_figure_shows_labels_and_question_marks(tmp_path):
    from harness.analysis.samples import label_text, sample_figure, suite_config

    assert label_text(["pedestrian", "car"], np.array([1.0, 0.0]), np.array([1.0, 0.0])) == "pedestrian: 1\ncar: ?"
    names = [f"digit_{d}" for d in range(10)]
    y, m = np.eye(10)[3] + np.eye(10)[7], np.ones(10) - np.eye(10)[5]
    assert label_text(names, y, m) == "1: 3 7\n?: 5"
    cfg = suite_config("digits", pool=12, n_per_task=12, n_val=4, n_test=4, missing=0.3)
    path = sample_figure(cfg, tmp_path / "digits.png", count=6, columns=3)
    assert path.read_bytes()[:4] == b"\x89PNG"
