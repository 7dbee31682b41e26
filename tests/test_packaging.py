"""pyproject.toml and environment.yml list the same dependencies with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _split(req: str) -> tuple[str, str]:
    name, spec = _REQ.match(req).groups()
    name = name.lower().replace("_", "-")
    return CONDA_TO_PYPI.get(name, name), ",".join(sorted(s.strip() for s in spec.split(",") if s.strip()))


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        reqs += [r for r in items if not r.startswith("dom2lite")]
    return dict(_split(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            reqs += [r for r in dep["pip"] if not r.startswith("-e")]
        elif not dep.startswith(("python", "pip")):
            reqs.append(dep)
        elif dep.startswith("python-") or dep.startswith("pip-"):
            reqs.append(dep)
    return dict(_split(r) for r in reqs)


def test_environment_yml_matches_pyproject():
    assert conda_requirements() == pyproject_requirements()


def test_every_dependency_is_lower_and_major_bounded():
    for name, spec in pyproject_requirements().items():
        assert ">=" in spec and "<" in spec.replace("<=", ""), f"{name} needs a lower and an upper bound: {spec!r}"


def test_mpe_only_import_does_not_load_mujoco():
    import subprocess
    import sys

    code = "import sys, dom2lite, dom2lite.nn, dom2lite.data; print('mujoco' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
