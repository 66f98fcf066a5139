"""Packaging consistency: environment.yml, pyproject.toml, constraints.txt and the Makefile agree.

No conda solve is possible here (conda-forge is unreachable), so the conda path is checked by
what can be checked offline: environment.yml parses, each entry is a well-formed conda match
spec, and it names exactly the packages pyproject.toml names (runtime and test extras), with the
same lower bounds. constraints.txt must pin every one of them to a version inside pyproject's
range, and that pinned set is what the test environment runs.
"""
import importlib.metadata
import pathlib
import re
import os
import subprocess
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: conda-forge package name -> PyPI name, where they differ (canonical forms). Add to this table
#: when a dependency is spelled differently on the two sides (e.g. conda "pytorch" is pip "torch").
CONDA_TO_PIP = {
    "pytorch": "torch",
    "matplotlib-base": "matplotlib",
}
#: environment.yml entries that are not project dependencies.
NOT_DEPENDENCIES = {"python", "pip"}

# conda MatchSpec, the subset used here: name, optional version constraint(s) such as
# "=3.11", ">=1.26", ">=1.2,<2", "1.2.*"; no build strings or channels are needed.
_CONDA_SPEC = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)"
    r"(?:\s*(?P<version>(?:[<>!=~]=?|==)?\s*[0-9][0-9A-Za-z.*+!_\-]*"
    r"(?:\s*[,|]\s*(?:[<>!=~]=?|==)?\s*[0-9][0-9A-Za-z.*+!_\-]*)*))?$")


def _env():
    with open(ROOT / "environment.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _pyproject_requirements():
    proj = _pyproject()["project"]
    reqs = [Requirement(r) for r in proj.get("dependencies", [])]
    reqs += [Requirement(r) for r in proj.get("optional-dependencies", {}).get("test", [])]
    return {canonicalize_name(r.name): r for r in reqs}


def _conda_specs():
    """{canonical pip name: conda version constraint} of environment.yml's conda entries."""
    specs = {}
    for entry in _env()["dependencies"]:
        if isinstance(entry, dict):  # the pip: sub-list, checked separately
            continue
        m = _CONDA_SPEC.match(str(entry).strip())
        assert m, f"environment.yml: {entry!r} is not a conda match spec"
        name = canonicalize_name(m.group("name"))
        if name in NOT_DEPENDENCIES:
            continue
        specs[CONDA_TO_PIP.get(name, name)] = (m.group("version") or "").replace(" ", "")
    return specs


def _pip_entries():
    for entry in _env()["dependencies"]:
        if isinstance(entry, dict):
            assert set(entry) == {"pip"}, f"environment.yml: unexpected mapping {entry!r}"
            return list(entry["pip"])
    return []


def _constraints():
    pins = {}
    for raw in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*==\s*([0-9][0-9A-Za-z.+!\-]*)", line)
        assert m, f"constraints.txt: {raw!r} is not an exact pin name==version"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"constraints.txt pins {name} twice"
        pins[name] = m.group(2)
    return pins


def test_environment_yml_parses():
    env = _env()
    assert isinstance(env, dict) and env.get("name") == "numalab"
    assert env.get("channels") == ["conda-forge"]
    deps = env["dependencies"]
    assert isinstance(deps, list) and deps
    pythons = [d for d in deps if isinstance(d, str) and re.match(r"python\b(?!-)", d)]
    assert len(pythons) == 1, "environment.yml must pin the Python it was tested with"
    assert "pip" in deps  # needed for the pip: section
    for entry in deps:
        assert isinstance(entry, (str, dict))
    _conda_specs()  # every entry is a match spec


def test_environment_installs_numalab_itself_editable():
    pip = _pip_entries()
    assert "-e ." in [p.strip() for p in pip]


def test_environment_and_pyproject_name_the_same_packages():
    conda = set(_conda_specs())
    others = [p for p in _pip_entries() if p.strip() != "-e ."]  # pip-only extras, if any
    pip_names = {canonicalize_name(Requirement(p).name) for p in others}
    assert not (conda & pip_names), f"named twice in environment.yml: {sorted(conda & pip_names)}"
    env_names = conda | pip_names
    py = set(_pyproject_requirements())
    assert env_names == py, (f"only in environment.yml: {sorted(env_names - py)}; "
                             f"only in pyproject.toml: {sorted(py - env_names)}")


def test_environment_and_pyproject_agree_on_bounds():
    conda = _conda_specs()
    for name, req in _pyproject_requirements().items():
        assert SpecifierSet(conda.get(name, "")) == req.specifier, (
            f"{name}: environment.yml says {conda.get(name)!r}, pyproject.toml {str(req.specifier)!r}")


def test_constraints_pin_every_dependency_inside_its_range():
    pins = _constraints()
    missing = sorted(set(_pyproject_requirements()) - set(pins))
    assert not missing, f"constraints.txt does not pin {missing}"
    for name, req in _pyproject_requirements().items():
        assert req.specifier.contains(Version(pins[name]), prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {req.specifier}")


def test_python_pin_inside_requires_python():
    py = next(d for d in _env()["dependencies"] if isinstance(d, str) and re.match(r"python\b(?!-)", d))
    version = re.search(r"[0-9][0-9.]*", py).group(0)
    assert SpecifierSet(_pyproject()["project"]["requires-python"]).contains(Version(version))


def test_makefile_installs_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install\b[^\n]*-c constraints\.txt", makefile)
    # the test target runs the unit tests, the docstring examples and every notebook under strict
    # nbval (stored outputs compared), with the sanitizers of notebooks/nbval-sanitize.cfg
    assert re.search(r"pytest tests\b[^\n]*--doctest-modules numalab\b[^\n]*--nbval notebooks\b"
                     r"[^\n]*--nbval-sanitize-with notebooks/nbval-sanitize\.cfg", makefile)
    assert "--nbval-lax" not in makefile
    assert (ROOT / "notebooks" / "nbval-sanitize.cfg").is_file()
    assert re.search(r"^notebooks:[^\n]*\n\t[^\n]*tools/store_notebook_outputs\.py", makefile, re.M)


def _in_conda():
    """True when the suite runs in a conda environment (which installs from environment.yml)."""
    return (pathlib.Path(sys.prefix) / "conda-meta").is_dir()


def _conda_specifier(spec: str) -> SpecifierSet:
    """A conda version constraint as a PEP 440 specifier set (``=3.11`` and ``1.2`` mean 3.11.*)."""
    parts = []
    for p in filter(None, spec.replace(" ", "").split(",")):
        if p[0].isdigit():
            p = "==" + p
        elif p.startswith("=") and not p.startswith("=="):
            p = "=" + p
        if p.startswith("==") and "*" not in p:
            p += ".*"
        parts.append(p)
    return SpecifierSet(",".join(parts))


def test_conda_specifier():
    assert _conda_specifier("=3.11").contains("3.11.9") and not _conda_specifier("=3.11").contains("3.12.0")
    assert _conda_specifier(">=1.2,<2") == SpecifierSet(">=1.2,<2")
    assert _conda_specifier("") == SpecifierSet("")


@pytest.mark.parametrize("name", sorted(_pyproject_requirements()))
def test_the_tested_environment_is_the_promised_one(name):
    """The environment the suite runs in holds what its installer promised: exactly the pinned
    version of each direct dependency in a pip venv (make re-installs when constraints.txt
    changes), a version inside environment.yml's constraint in a conda environment (which pins
    nothing)."""
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{name} is a dependency but is not installed")
    if _in_conda():
        spec = _conda_specs()[name]
        assert _conda_specifier(spec).contains(Version(installed), prereleases=True), (
            f"{name} {installed} installed, environment.yml promises {spec!r}")
        return
    pins = _constraints()
    assert Version(installed) == Version(pins[name]), (
        f"{name} {installed} installed, constraints.txt pins {pins[name]}: run make")


def test_the_running_python_is_the_promised_one():
    version = Version(".".join(map(str, sys.version_info[:3])))
    assert SpecifierSet(_pyproject()["project"]["requires-python"]).contains(version)
    if _in_conda():
        py = next(d for d in _env()["dependencies"] if isinstance(d, str) and re.match(r"python\b(?!-)", d))
        assert _conda_specifier(py[len("python"):]).contains(version), f"environment.yml says {py}"


def test_declared_minimums_are_what_the_code_needs():
    """np.bitwise_count appeared in NumPy 2.0; tomllib (the tests) in Python 3.11."""
    reqs = _pyproject_requirements()
    assert reqs["numpy"].specifier == SpecifierSet(">=2.0")
    assert SpecifierSet(_pyproject()["project"]["requires-python"]) == SpecifierSet(">=3.11")


def test_make_lab_works_as_root():
    """Jupyter refuses to run as root without --allow-root; the lab target passes it for euid 0
    (the recipe's shell fragment is run here: it must say --allow-root exactly when we are root)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "jupyter lab notebooks/" in recipe
    frag = re.search(r"\$\$\((test .*?--allow-root)\)", recipe)
    assert frag, "the lab recipe does not add --allow-root for root"
    out = subprocess.run(["sh", "-c", frag.group(1).replace("$$", "$")], capture_output=True, text=True)
    assert ("--allow-root" in out.stdout) == (os.geteuid() == 0)
