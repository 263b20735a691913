"""environment.yml is the single source of truth for the pinned pip path."""

import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from pip_requirements import pip_requirements  # noqa: E402


def test_pip_path_reads_environment_yml():
    reqs = pip_requirements(ROOT / "environment.yml")
    names = {r.split("==")[0].lower() for r in reqs}
    # the known-good set of the foundation issue
    assert {"torch", "transformers", "datasets", "geomloss", "pot", "jupyter-book"} <= names
    assert {"papermill", "nbval", "pytest", "matplotlib", "seaborn", "tqdm", "sacremoses"} <= names
    assert "torch==2.13.0" in reqs  # an unpinned torch pulls a multi-GB CUDA build
    # the Makefile installs exactly this list
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "pip_requirements.py"),
            str(ROOT / "environment.yml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == reqs
    assert "tools/pip_requirements.py environment.yml" in (ROOT / "Makefile").read_text()


def test_installed_versions_match_the_pins():
    mismatched = []
    for req in pip_requirements(ROOT / "environment.yml"):
        name, want = req.split("==")
        have = md.version(name)
        if re.sub(r"\+.*$", "", have) != want:  # torch reports 2.13.0+cpu
            mismatched.append(f"{name}: pinned {want}, installed {have}")
    assert not mismatched, "environment differs from environment.yml: " + "; ".join(mismatched)


def test_unpinned_requirement_is_rejected(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text("dependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - torch\n")
    with pytest.raises(ValueError, match=r"must be pinned with ==: \['torch'\]"):
        pip_requirements(env)


def test_comments_are_allowed_and_garbage_is_named(tmp_path):
    env = tmp_path / "environment.yml"
    env.write_text(
        "dependencies:\n  - pip\n  - pip:\n      - torch==2.13.0  # pinned: CPU build\n"
        "      # a comment line\n      - numpy==2.4.6\n"
    )
    assert pip_requirements(env) == ["torch==2.13.0", "numpy==2.4.6"]
    env.write_text("dependencies:\n  - pip:\n      - torch==2.13.0\n      -\n")
    with pytest.raises(ValueError, match=r"environment.yml:4: not a pip requirement"):
        pip_requirements(env)
