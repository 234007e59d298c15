"""What the install files promise: the versions the tests run are inside their bounds, the CPU-only file is the
default one without CUDA, and CI runs the README's test command."""

import os
import re
from importlib import metadata

from packaging.requirements import Requirement

from conftest import ROOT


def _requirements(name):
    """{package: Requirement} of a requirements file's own lines (no -r, -e or comments)."""
    with open(os.path.join(ROOT, name)) as f:
        lines = [line.split("#")[0].strip() for line in f]
    found = [Requirement(line) for line in lines if line and not line.startswith("-")]
    return {r.name: r for r in found}


def _project_dependencies():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    return {r.name: r for r in (Requirement(s) for s in re.findall(r'"([^"]+)"', block))}


def test_the_installed_versions_are_inside_the_bounds_they_were_tested_at():
    bounded = {**_project_dependencies(), **_requirements("requirements.txt"), **_requirements("requirements-test.txt")}
    for name in ("keras", "tensorflow", "jax"):
        assert str(bounded[name].specifier), f"{name} has no bound"
        assert bounded[name].specifier.contains(metadata.version(name)), (name, metadata.version(name))
    # The minor version: a bound that admits the next minor release does not hold what the tests ran.
    assert not bounded["keras"].specifier.contains("3.16.0")
    assert not bounded["tensorflow"].specifier.contains("2.22.0")


def test_the_cpu_requirements_are_the_default_ones_without_cuda():
    default, cpu = _requirements("requirements.txt"), _requirements("requirements-cpu.txt")
    assert default["tensorflow"].extras == {"and-cuda"} and cpu["tensorflow"].extras == set()
    assert default["tensorflow"].specifier == cpu["tensorflow"].specifier
    for name in ("requirements.txt", "requirements-cpu.txt"):
        with open(os.path.join(ROOT, name)) as f:
            assert "-e ." in f.read().splitlines()  # cifar_common and its dependencies from pyproject.toml
    with open(os.path.join(ROOT, "README.md")) as f:
        assert "requirements-cpu.txt" in f.read()


def test_ci_runs_the_readmes_test_command_and_pytest_needs_no_plugin_flags():
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read().strip().splitlines()[-1]
    with open(os.path.join(ROOT, "README.md")) as f:
        assert f"\n{ci}\n" in f.read()  # a line of its own, in the README's test block
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        assert not re.search(r"^addopts", f.read(), re.M)  # a plain `python -m pytest tests/x.py` works without pytest-xdist
