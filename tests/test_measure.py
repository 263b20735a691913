"""A chapter's benchmark measurement: the script's JSON with the machine added, kept and reused,
and a failing script named with its error."""

import json

import pytest

from wordot.book.measure import machine, measure


def _script(root, body):
    (root / "benchmarks").mkdir(parents=True, exist_ok=True)
    (root / "benchmarks" / "fake.py").write_text(body)


COUNTING = """
import argparse, json, pathlib
p = argparse.ArgumentParser(); p.add_argument("--n", type=int); p.add_argument("--json")
a = p.parse_args()
calls = pathlib.Path(a.json).parent / "calls"
calls.write_text(str(int(calls.read_text()) + 1 if calls.exists() else 1))
pathlib.Path(a.json).write_text(json.dumps({"square": a.n * a.n}))
print("measured")
"""


def test_a_measurement_is_kept_and_reused(tmp_path):
    _script(tmp_path, COUNTING)
    out = tmp_path / "runs"
    first = measure("fake", ["--n", "7"], out, root=tmp_path)
    assert first["square"] == 49 and first["printed"].strip() == "measured"
    assert first["machine"]["cores"] >= 1 and first["args"] == ["--n", "7"]
    again = measure("fake", ["--n", "7"], out, root=tmp_path)
    assert again == first and (out / "calls").read_text() == "1"  # not run twice
    other = measure("fake", ["--n", "3"], out, root=tmp_path)
    assert other["square"] == 9 and (out / "calls").read_text() == "2"
    assert sorted(p.suffix for p in out.glob("fake-*")) == [".json", ".json"]  # no raw left


def test_a_failing_script_is_named_with_its_error(tmp_path):
    _script(tmp_path, "import sys\nsys.exit('no encoder here')\n")
    with pytest.raises(
        RuntimeError, match=r"benchmarks/fake.py --n 1 failed \(exit 1\):\nno encoder here"
    ):
        measure("fake", ["--n", "1"], tmp_path / "runs", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="no benchmark script"):
        measure("absent", [], tmp_path / "runs", root=tmp_path)


def test_machine_names_cpu_and_versions():
    m = machine()
    assert set(m) == {"cpu", "cores", "simd", "python", "torch"}
    assert json.dumps(m)  # JSON as it is stored


def test_the_project_root_is_found_from_a_subfolder(tmp_path, monkeypatch):
    _script(tmp_path, COUNTING)
    (tmp_path / "_toc.yml").write_text("root: intro\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where nbval runs a chapter
    assert measure("fake", ["--n", "2"], tmp_path / "runs")["square"] == 4
