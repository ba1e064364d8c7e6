"""Planning concurrent `history ls --filter startedAt<T` pages (pure: no buildx)."""

from __future__ import annotations

from mabgui.core.build import bkpaging
from mabgui.core.build.bkhistory_parse import LS_PAGE


def test_a_short_page_makes_everything_below_known() -> None:
    cov = bkpaging.start({"b/n0": [100, 99, 98]})
    assert cov.top == 101
    assert cov.gaps() == []


def test_a_full_page_knows_the_seconds_above_its_oldest() -> None:
    cov = bkpaging.start({"b/n0": [110] * 10 + [105] * 40})
    assert cov.gaps() == [(0, 106)]  # second 105 may hold more: asked again
    cov.add(100, {"b/n0": [99] * 50})  # a page of one second: skipped
    assert cov.skipped == [99]
    assert cov.gaps() == [(100, 106), (0, 99)]


def test_a_multi_node_page_is_known_only_as_far_as_its_shortest_full_node() -> None:
    # node 0 reached back to 90, node 1 (also full) only to 95: below 96 node 1 may have more
    cov = bkpaging.start({"b/n0": [120] + [90] * 49, "b/n1": [120] + [95] * 49, "b/n2": [91]})
    assert cov.gaps() == [(0, 96)]


def test_plan_asks_every_gap_top_first_then_guesses_below() -> None:
    cov = bkpaging.start({"b/n0": list(range(200, 150, -1))})  # 50 records, one a second
    cov.add(140, {"b/n0": list(range(139, 89, -1))})
    assert cov.gaps() == [(140, 152), (0, 91)]
    bounds = cov.plan(4)
    assert bounds[:2] == [152, 91]
    assert len(bounds) == 4
    assert all(0 < b < 91 for b in bounds[2:])


def test_replay_gives_the_bounds_of_paging_in_turn() -> None:
    hint = [1000 - i // 10 for i in range(200)]  # 10 records a second, 1000 down to 981
    bounds = bkpaging.replay(hint, 0, 1001)
    assert bounds == [997, 993, 989, 985]  # a page: 5 seconds; its oldest asked again
    assert bkpaging.replay(hint[: LS_PAGE - 1], 0, 1001) == []


def test_by_node_groups_start_seconds() -> None:
    got = bkpaging.by_node([("b/n0/r1", 10.7), ("b/n1/r2", 11.2), ("b/n0/r3", None)])
    assert got == {"b/n0": [10], "b/n1": [11]}
