"""Build step: the wheel carries the repository's top-level ``data/`` inside the package.

The project metadata lives in pyproject.toml; this file only extends ``build_py`` so that
``data/topologies/*.json`` and ``data/race/*.json`` (kept at the top level of the repository) are
copied to ``numalab/data/...`` in the build tree, where :mod:`numalab._data` finds it in an installed
wheel. Editable installs read the checkout's ``data/`` directly and skip the copy.
"""
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent
DATA = ("topologies", "race")  # numalab._data.SUBDIRS


class build_py_with_data(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for sub in DATA:
            src = ROOT / "data" / sub
            files = sorted(src.glob("*.json"))
            if not files:
                raise SystemExit(f"setup.py: no data in {src}: the wheel would ship no presets")
            dst = pathlib.Path(self.build_lib) / "numalab" / "data" / sub
            self.mkpath(str(dst))
            for f in files:
                self.copy_file(str(f), str(dst / f.name))


setup(cmdclass={"build_py": build_py_with_data})
