"""What ships: the lock file CI and the Docker image install from agrees with pyproject.toml, and an
image build context carries no local state."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def test_every_declared_dependency_is_locked_at_a_version_it_allows():
    """Change a dependency in pyproject.toml and this fails until requirements.lock is compiled
    again (`uv pip compile pyproject.toml --all-extras --universal --python-version 3.11
    -o requirements.lock --no-header`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = {
        canonicalize_name(name): version
        for name, version in re.findall(
            r"(?m)^([A-Za-z0-9_.\-]+)==([^\s;]+)", (ROOT / "requirements.lock").read_text()
        )
    }
    declared = [
        *project["dependencies"],
        *(d for extra in project["optional-dependencies"].values() for d in extra),
    ]
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == "stet":  # an extra naming another extra
            continue
        assert name in locked, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock has {name}=={locked[name]}, pyproject.toml asks {requirement.specifier}"
        )


def test_the_image_never_gets_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".stet/", ".venv/", ".git/", "dashboard/node_modules/"):
        assert path in ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY . " not in dockerfile and "pip install -e" not in dockerfile
    assert "USER stet" in dockerfile
