"""The pre-commit hook with the real pre-commit, offline: `pre-commit try-repo` of this repository's
.pre-commit-hooks.yaml on a temporary repository with two models and a pyproject.toml, as docs/ci.md sets it up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daily_fixtures import REPO, clean_conv, hardswish_chain

pytest.importorskip("pre_commit")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")

PYPROJECT = """\
[project]
name = "my-lens"
version = "0.1.0"

[tool.snapcheck]
ls-version = "5.x"

[[tool.snapcheck.suppress]]
code = "SC505"
reason = "NCHW inputs: Lens Studio converts them and our models have no reshape"
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def try_repo(project: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PRE_COMMIT_HOME": str(home), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "PRE_COMMIT_COLOR": "never"}
    env.pop("SNAPCHECK_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "snapcheck-installed",
                           "--all-files"], cwd=project, env=env, capture_output=True, text=True, timeout=300)


@needs_git
def test_the_hook_passes_two_good_models_and_fails_a_bad_one(tmp_path):
    project = tmp_path / "lens"
    clean_conv(project / "models" / "face.onnx")
    shutil.copy(REPO / "models" / "catface-s" / "catface-s.tflite", project / "models" / "cat.tflite")
    (project / "pyproject.toml").write_text(PYPROJECT)
    git(project, "init", "-q")
    git(project, "add", "-A")
    p = try_repo(project, tmp_path / "pre-commit-home")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Passed" in p.stdout
    hardswish_chain(project / "models" / "new.onnx", n=2)
    git(project, "add", "-A")
    p = try_repo(project, tmp_path / "pre-commit-home")
    assert p.returncode == 1 and "Failed" in p.stdout
    assert "FAIL Lens Studio 5.x  models/new.onnx" in p.stdout and "Traceback" not in p.stdout
