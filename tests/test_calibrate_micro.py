"""The single-layer specs: every kind of the registry is drawn, with a fixed seed (no TensorFlow)."""

from __future__ import annotations

from snapcheck.calibrate.micro import KINDS, micro_specs


def test_micro_specs_cover_every_kind_deterministically():
    a, b = micro_specs(0, 8), micro_specs(0, 8)
    assert a == b
    assert {s.kind for s in a} == set(KINDS)
    assert len({s.key() for s in a}) == len(a)
