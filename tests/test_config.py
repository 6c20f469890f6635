import pytest

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
