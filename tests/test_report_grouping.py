"""Repeated findings shown as one line: op, tensor and quoted shapes are what members may differ in."""

from __future__ import annotations

from snapcheck.registry import emit
from snapcheck.report.grouping import group_findings, located_message


def _rank(i: int, shape: list[int]):
    return emit("SC503", tensor=f"t{i}", rank=len(shape), shape=shape, source=f" (from #{i} RESHAPE)",
                op=f"#{i} RESHAPE", subgraph=0, op_index=i)


def test_tensors_of_one_rank_group_whatever_their_shapes():
    findings = [_rank(1, [1, 8, 7, 8, 7, 96]), _rank(2, [1, 4, 7, 4, 7, 192]), _rank(3, [1, 8, 7, 8, 7, 96]),
                _rank(4, [1, 2, 7, 2, 7, 384]), _rank(5, [1, 64, 3, 49, 49])]
    groups = group_findings(findings)
    assert [len(g) for g in groups] == [4, 1]  # rank 6 apart from rank 5
    line = located_message(groups[0])
    assert line == "tensor ... has rank 6 [...] (from #1 RESHAPE, #2 RESHAPE, #3 RESHAPE and 1 more)"
    assert located_message(groups[1]) == "tensor 't5' has rank 5 [1, 64, 3, 49, 49] (from #5 RESHAPE)"


def test_a_shape_every_member_shares_stays_in_the_line():
    groups = group_findings([_rank(1, [1, 2, 3, 4, 5]), _rank(2, [1, 2, 3, 4, 5])])
    assert [len(g) for g in groups] == [2]
    assert located_message(groups[0]) == "tensor ... has rank 5 [1, 2, 3, 4, 5] (from #1 RESHAPE, #2 RESHAPE)"
