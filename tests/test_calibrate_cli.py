"""``snapcheck calibrate`` and its stage commands refuse bad options and unreadable profiles before any work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from snapcheck.cli import app
from snapcheck.errors import InputError


@pytest.mark.parametrize("args, problem", [
    (["calibrate", "--threads", "0"], "--threads must be >= 1"),
    (["calibrate", "--nets", "-1"], "--nets >= 0"),
    (["calibrate", "shapes", "--part", "2/2"], "--part 2/2"),
    (["calibrate", "shapes", "--part", "x"], "--part must be i/k"),
])
def test_bad_options_are_input_errors(args, problem):
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InputError) and problem in str(result.exception)


def test_a_stage_needs_a_readable_profile(tmp_path):
    missing, junk = tmp_path / "missing.json", tmp_path / "junk.json"
    junk.write_text('{"device": "host"}')
    for stage in ("shapes", "nets"):
        for path, problem in ((missing, "no such profile"), (junk, "not a snapcheck profile")):
            result = CliRunner().invoke(app, ["calibrate", stage, "--profile", str(path), "--build-only"])
            assert isinstance(result.exception, InputError), result.output
            assert str(path) in str(result.exception) and problem in str(result.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.json"]


def test_quick_refuses_a_host_profile_it_could_not_write_before_timing_anything(tmp_path, monkeypatch):
    import snapcheck.calibrate.quick as quick

    def timed(*args, **kwargs):
        raise AssertionError("timed the probes before checking where the profile goes")

    monkeypatch.setattr(quick, "calibrate_quick", timed)
    blocker = tmp_path / "hosts"
    blocker.write_text("a file where the host profiles' folder would be")
    monkeypatch.setenv("SNAPCHECK_HOST_PROFILES", str(blocker))
    result = CliRunner().invoke(app, ["calibrate", "--quick"])
    assert isinstance(result.exception, InputError), result.output
    assert "the host profile cannot be created" in str(result.exception)
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--out", str(tmp_path)])
    assert isinstance(result.exception, InputError) and "--out is a folder" in str(result.exception)
