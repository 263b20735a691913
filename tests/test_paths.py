"""wordot.paths.shown: what a reader sees of a path in the rendered chapters."""

from __future__ import annotations

from pathlib import Path

from wordot import paths


def test_shown_names_paths_by_their_root_not_the_machine(tmp_path, monkeypatch):
    project, data, cache, home = (tmp_path / d for d in ("project", "data", "cache", "home"))
    for d in (project / "runs", data / "xnli", cache / "corpora", home / "elsewhere"):
        d.mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.setenv("WORDOT_DATA", str(data))
    monkeypatch.setenv("WORDOT_CACHE", str(cache))
    monkeypatch.setenv("HOME", str(home))
    assert paths.shown(project / "runs") == "runs"
    assert paths.shown(data / "xnli") == "$WORDOT_DATA/xnli"
    assert paths.shown(data) == "$WORDOT_DATA"
    assert paths.shown(cache / "corpora") == "$WORDOT_CACHE/corpora"
    assert paths.shown(home / "elsewhere") == "~/elsewhere"
    assert paths.shown("/proc/self/../version") == str(Path("/proc/version"))
