"""The layout the docs describe: conf/ and experiments/ at the top, wings as packages the
wheel lists, and modules and functions small enough to read."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
MODULE_LINES = 400
# A ceiling, not the aim (about 60): the studies' analyse functions still run to 76.
FUNCTION_LINES = 80


def test_the_top_level_shows_config_groups_and_studies_before_code():
    for name in ("pyproject.toml", "README.md", "harness", "conf", "experiments", "tests", "reports"):
        assert (ROOT / name).exists(), name
    for folder in ("conf", "experiments"):
        links = [p for p in (ROOT / folder).rglob("*") if p.is_symlink()]
        assert not links, links
    assert {p.stem for p in (ROOT / "conf" / "data").glob("*.yaml")} >= {"synthetic", "scenes", "digits", "table"}


def test_the_wheel_lists_every_package_and_maps_conf_and_experiments_into_it():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("harness", "hydra_plugins")
        for init in (ROOT / top).rglob("__init__.py")
    }
    found |= {"hydra_plugins", "harness.conf", "harness.experiments"}  # a namespace and two data packages
    assert set(tool["packages"]) == found
    assert tool["package-dir"] == {"harness.conf": "conf", "harness.experiments": "experiments"}


def test_no_module_or_function_is_too_long_to_read():
    long_modules, long_functions = [], []
    for path in sorted((ROOT / "harness").rglob("*.py")) + sorted((ROOT / "hydra_plugins").rglob("*.py")):
        text = path.read_text()
        name = path.relative_to(ROOT)
        if text.count("\n") > MODULE_LINES:
            long_modules.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    assert not long_modules, long_modules
    assert not long_functions, long_functions
