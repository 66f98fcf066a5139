"""The wheel as a user installs it: built from a copy of the sources, installed into a fresh venv
outside the checkout, and driven through the README's command-line examples from another folder.

The fresh venv gets numalab from the wheel only (``pip install --no-deps``); its third-party
dependencies come from the environment running this test, through one ``.pth`` line naming that
environment's site-packages (so no download is needed and the versions are the tested ones).
Packages in that folder that are installed in editable mode (numalab itself, in a checkout) are
not visible there: ``.pth`` files of a folder added that way are not processed. The fixture checks
that ``numalab`` is imported from the fresh venv, not from the checkout. The dependencies' data
files (nbconvert templates) stay in their prefix: ``JUPYTER_PATH`` points there.
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

#: What the sdist and the wheel are built from (copied, so no build/ folder of the checkout leaks in).
SOURCES = ("numalab", "data", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE")


def readme_commands():
    """The ``numalab ...`` lines of the README's command-line block, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The command line", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    out = []
    for line in block.splitlines():
        cmd = line.split("  #", 1)[0].strip()
        if cmd.startswith("numalab "):
            out.append(cmd)
    return out


def _run(argv, cwd, timeout=600, env=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    dist = base / "dist"
    r = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(src)], base)
    assert r.returncode == 0, f"building the wheel failed:\n{r.stdout}\n{r.stderr}"
    wheels = list(dist.glob("numalab-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    r = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base)
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    purelib = pathlib.Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                base).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "zz_numalab_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    r = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps",
              str(wheels[0])], base)
    assert r.returncode == 0, f"installing the wheel failed:\n{r.stdout}\n{r.stderr}"
    work = base / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # the dependencies' data files (nbconvert's templates, kernel specs) stay in their own prefix
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(pathlib.Path(sys.prefix) / "share" / "jupyter")] + ([env["JUPYTER_PATH"]] if env.get("JUPYTER_PATH") else []))
    where = _run([str(py), "-c", "import numalab; print(numalab.__file__)"], work, env=env).stdout.strip()
    assert pathlib.Path(where).is_relative_to(venv), f"numalab imported from {where}, not the fresh venv"
    return {"venv": venv, "work": work, "env": env, "wheel": wheels[0]}


def test_wheel_carries_the_presets(installed):
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    shipped = {pathlib.PurePosixPath(n).name for n in names if n.startswith("numalab/data/topologies/")}
    expected = {p.name for p in (ROOT / "data" / "topologies").glob("*.json")}
    assert expected and shipped == expected


def test_readme_lists_the_commands():
    cmds = readme_commands()
    assert len(cmds) >= 10
    assert {c.split()[1] for c in cmds} >= {"mask", "kernel", "topology", "zonelists", "policy", "report"}


def _host_sysfs():
    return pathlib.Path("/sys/devices/system/node/online").is_file()


@pytest.mark.parametrize("cmd", readme_commands())
def test_readme_command_runs_from_the_wheel(installed, cmd):
    work, env = installed["work"], installed["env"]
    argv = shlex.split(cmd)
    if "host" in argv or argv[1] == "snapshot":
        if not _host_sysfs():
            pytest.skip("this machine has no /sys/devices/system/node (no NUMA sysfs to read)")
    if "--batch" in argv:
        (work / argv[argv.index("--batch") + 1]).write_text(
            '{"topology": "cxl4", "kernel": "6.1", "mems": "0-3", "then_mems": ["0-1"], '
            '"mode": "bind", "flags": ["static"], "nodes": "3", "pages": 4}\n')
    if argv[1] == "report":
        # an installed numalab has no notebooks folder beside it: name one (copied here)
        shutil.copy2(ROOT / "notebooks" / "00-nodemasks.ipynb", work / "00-nodemasks.ipynb")
        argv.append("00-nodemasks.ipynb")
    r = _run(argv, work, env=env)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr
    assert r.stdout.strip(), f"{cmd}: no output"
    if argv[1] == "snapshot":
        back = _run(["numalab", "topology", argv[2]], work, env=env)
        assert back.returncode == 0 and "nodes" in back.stdout
    if argv[1] == "topology" and argv[2:] == ["--list"]:
        assert "cxl4" in r.stdout
    if argv[1] == "report":
        assert (work / "reports" / "00-nodemasks.html").is_file()


def test_report_without_notebooks_is_one_line(installed):
    r = _run(["numalab", "report", "--out", "reports-none"], installed["work"], env=installed["env"])
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("numalab: error: ") and "notebooks" in r.stderr
