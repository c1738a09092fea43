"""The report targeting rules, on their own (`streams.core.reports`); the engine tests cover them end to end."""

from __future__ import annotations

from streams.core.reports import RECENT, Link, aboard

H = 3_600_000_000  # an hour in microseconds


def link(t: int, stuffed: int = 1, where: str = "DEFRA", retracted: int = 0) -> list:
    return [f"e{t}-{stuffed}", stuffed, t, where, None, retracted]


def test_a_link_names_the_positional_fields_state_keeps() -> None:
    assert Link.of(["e1", 1, 5, "DEFRA", 3, 0]) == Link("e1", 1, 5, "DEFRA", 3, 0)
    assert Link.of(["e1", 1, 5, "DEFRA", 3, 0]).pieces == 3


def test_cargo_stuffed_last_is_aboard_and_stripped_cargo_only_while_recent() -> None:
    assert aboard([link(0)], since=10 * H)
    assert aboard([link(0), link(20 * H, stuffed=0)], since=10 * H)
    assert not aboard([link(0), link(5 * H, stuffed=0)], since=10 * H)


def test_a_retracted_link_links_nothing() -> None:
    assert not aboard([link(0, retracted=1)], since=0)
    assert not aboard([link(0), link(5 * H, stuffed=0), link(6 * H, retracted=1)], since=10 * H)


def test_uld_cargo_leaves_at_the_first_landing_after_its_build_up() -> None:
    assert aboard([link(0)], since=10 * H, landed=[20 * H])
    assert not aboard([link(0)], since=10 * H, landed=[5 * H])
    assert aboard([link(6 * H)], since=10 * H, landed=[5 * H])  # built up again after that landing


def test_uld_cargo_left_when_the_uld_is_built_up_somewhere_else() -> None:
    builds = [(0, "DEFRA"), (5 * H, "USJFK")]
    assert not aboard([link(0)], since=10 * H, builds=builds)
    assert aboard([link(0)], since=10 * H, builds=[(0, "DEFRA"), (5 * H, "DEFRA")])  # the same place: still listed
    assert aboard([link(0)], since=4 * H, builds=builds)  # left, but recently


def test_recent_is_two_weeks() -> None:
    assert RECENT == 14 * 24 * H
