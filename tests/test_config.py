import pytest
from omegaconf import OmegaConf

from harness.config import ConfigError, RunConfig, from_omegaconf, schema_keys


def compose(**sections):
    cfg = {"arms": ["mtl", "stl"], "data": {}, "model": {}, "train": {}, "runtime": {}}
    for section, values in sections.items():
        if section == "arms":
            cfg["arms"] = values
        else:
            cfg[section].update(values)
    return from_omegaconf(cfg)


def test_defaults_are_valid():
    run = compose()
    assert isinstance(run, RunConfig) and run.arms == ["mtl", "stl"]


@pytest.mark.parametrize(
    ("sections", "names"),
    [
        ({"model": {"width": -1}}, "model.width"),
        ({"data": {"tasks": 0}}, "data.tasks"),
        ({"data": {"n_target": 5000, "n_other": 10}}, "data.n_target"),
        ({"data": {"n_target": 5}}, "data.n_other"),
        ({"data": {"missing": 1.5}}, "data.missing"),
        ({"data": {"relatedness": -0.1}}, "data.relatedness"),
        ({"arms": ["mtl", "nope"]}, "arms"),
        ({"arms": []}, "arms"),
        ({"train": {"optimizer": "lbfgs"}}, "train.optimizer"),
        ({"train": {"steps": 100, "eval_every": 30}}, "train.steps"),
        ({"data": {"wat": 1}}, "data.wat"),
    ],
)
def test_bad_values_name_the_key_in_one_line(sections, names):
    with pytest.raises(ConfigError) as error:
        compose(**sections)
    message = str(error.value)
    assert names in message and "\n" not in message
    assert "expected" in message or "accepted" in message


def test_schema_keys_lists_a_section():
    assert "width" in schema_keys("model")
    assert schema_keys("model.width") is None


@pytest.mark.parametrize(
    ("key", "nearest"),
    [("seeds", "train.seeds"), ("train.lrr", "train.lr"), ("model.widht", "model.width"), ("arm", "arms")],
)
def test_an_unknown_key_is_refused_with_the_closest_accepted_one(key, nearest):
    section, _, leaf = key.rpartition(".")
    config = {section: {leaf: 1}} if section else {leaf: 1}
    with pytest.raises(ConfigError) as error:
        from_omegaconf(OmegaConf.create(config))
    assert str(error.value).startswith(f"unknown config key '{key}'; did you mean {nearest}?")


def test_an_unknown_key_far_from_every_accepted_one_lists_what_is_accepted():
    with pytest.raises(ConfigError) as error:
        from_omegaconf(OmegaConf.create({"foo": 1}))
    assert str(error.value) == (
        "unknown config key 'foo'; accepted at the top level: study, arms, data.*, model.*, train.*, runtime.*"
    )


def test_a_misspelt_config_group_option_names_the_closest_and_the_options():
    from hydra.errors import MissingConfigException

    from harness.config.errors import one_line

    error = MissingConfigException("", "experiment/full/capacty", options=["affinity", "capacity"])
    assert one_line(error) == (
        "experiment=full/capacty does not exist; did you mean experiment=full/capacity? "
        "options: full/affinity, full/capacity"
    )
