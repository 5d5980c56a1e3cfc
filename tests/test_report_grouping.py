"""Repeated findings shown as one line: op, tensor and quoted shapes are what members may differ in."""

from __future__ import annotations

from snapcheck.registry import emit
from snapcheck.report.grouping import group_findings, located_message


def _rank(i: int, shape: list[int]):
    return emit("SC503", tensor=f"t{i}", rank=len(shape), shape=shape, source=f" (from #{i} RESHAPE)",
                op=f"#{i} RESHAPE", subgraph=0, op_index=i)


def test_tensors_of_rank_above_4_group_whatever_their_shapes_and_ranks():
    findings = [_rank(1, [1, 8, 7, 8, 7, 96]), _rank(2, [1, 4, 7, 4, 7, 192]), _rank(3, [1, 8, 7, 8, 7, 96]),
                _rank(4, [1, 2, 7, 2, 7, 384]), _rank(5, [1, 64, 3, 49, 49])]
    groups = group_findings(findings)
    assert [len(g) for g in groups] == [5]
    assert located_message(groups[0]) == \
        "tensor ... has rank 5-6 [...] (from #1 RESHAPE, #2 RESHAPE, #3 RESHAPE and 2 more)"
    assert located_message(groups[0][4:]) == "tensor 't5' has rank 5 [1, 64, 3, 49, 49] (from #5 RESHAPE)"


def test_figures_members_do_not_share_show_as_their_range():
    def flushed(i: int, share: str):
        return emit("SC402", where=f"weight 'b{i}' of #{i} FULLY_CONNECTED", share=share, op=f"#{i} FULLY_CONNECTED",
                    subgraph=0, op_index=i, tensor=f"b{i}")

    groups = group_findings([flushed(1, "2.5%"), flushed(2, "1.8%"), flushed(3, "12.0%"), flushed(4, "2.5%")])
    assert [len(g) for g in groups] == [4]
    line = located_message(groups[0])
    assert "1.8-12.0% of its non-zero values" in line and "and 1 more" in line



def test_a_figure_is_a_number_standing_alone():
    from snapcheck.report.grouping import FIGURE

    text = "float16 2^-25 #12 CONV_2D rank-3 k16x16s16 sg1#3 x2 iPhone 6 5.x 2.5% 1,024 B 3.40282e+38 0.5 MB"
    assert FIGURE.findall(text) == ["6", "5", "2.5", "1,024", "3.40282e+38", "0.5"]


def test_a_shape_every_member_shares_stays_in_the_line():
    groups = group_findings([_rank(1, [1, 2, 3, 4, 5]), _rank(2, [1, 2, 3, 4, 5])])
    assert [len(g) for g in groups] == [2]
    assert located_message(groups[0]) == "tensor ... has rank 5 [1, 2, 3, 4, 5] (from #1 RESHAPE, #2 RESHAPE)"
