"""The revision a benchmark reports: the commit, marked when tracked files differ from it."""

import subprocess

from benchmarks.provenance import revision


def _git(folder, *arguments):
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments]
    return subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True).stdout


def test_revision_is_the_commit_and_marks_changed_tracked_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert revision(tmp_path) == "unknown"
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-qm", "first")
    commit = _git(tmp_path, "rev-parse", "--short", "HEAD").strip()
    (tmp_path / "untracked.txt").write_text("not part of the code")
    assert revision(tmp_path) == commit
    (tmp_path / "a.txt").write_text("two")
    assert revision(tmp_path) == f"{commit}+changes"
