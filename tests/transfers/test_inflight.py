"""The in-flight ledger (`InFlight`): what a killed try may have stored past its checkpoint, counted once per copy
by the next try, however that try cuts its batches."""

from __future__ import annotations

from airflow_provider_pandora.transfers._checkpoints import InFlight, Span, _overlaid


def test_a_killed_try_s_batches_are_counted_by_position_whatever_the_next_try_s_batch_sizes() -> None:
    killed = InFlight()
    killed.post(0, key=1, points=10)
    killed.post(0, key=2, points=5)
    killed.repost(2, 5)  # batch 2 was sent again after its answer was lost: two copies may be stored
    saved = killed.entries(0)
    assert saved == [[0, 0, 10, 1, 0], [0, 10, 15, 2, 0]]

    following = InFlight(carried={0: [Span(*entry[1:]) for entry in saved]})
    assert following.settle(0, key=7, points=4) == 4  # points 0-3, one copy each
    assert following.settle(0, key=8, points=8) == 6 + 2 * 2  # points 4-9 once, 10-11 twice
    assert following.settle(0, key=9, points=100) == 3 * 2  # points 12-14 twice; the rest was never posted
    assert following.entries(0) == []


def test_part_of_a_batch_sent_again_counts_its_points_once_when_the_batch_is_re_sent() -> None:
    killed = InFlight()
    killed.post(0, key=1, points=10)
    killed.repost(1, 3)  # a bisected half of it
    (entry,) = killed.entries(0)
    assert entry == [0, 0, 10, 1, 3]
    following = InFlight(carried={0: [Span(*entry[1:])]})
    assert following.settle(0, key=1, points=6) == 6 + 3
    assert following.settle(0, key=2, points=4) == 4  # the extra is counted once


def test_the_checkpoint_keeps_only_what_is_past_its_position() -> None:
    ledger = InFlight(carried={0: [Span(0, 10, 2)], 1: [Span(0, 4)]})
    ledger.post(0, key=1, points=6)
    assert ledger.settle(0, key=1, points=6) == 12
    ledger.post(0, key=2, points=6)
    # from the position after the settled 6 points: the carried rest (4 points, 2 copies) and the posted batch
    assert ledger.entries(0) == [[0, 0, 4, 2, 0], [1, 0, 4, 1, 0], [0, 0, 6, 1, 0]]
    assert ledger.entries(1) == [[1, 0, 4, 1, 0]]  # a position in source 1: source 0 is done
    ledger.forget_own()  # the try failed and counted its own in its totals
    assert ledger.entries(0) == [[0, 0, 4, 2, 0], [1, 0, 4, 1, 0]]


def test_a_changed_source_counts_as_many_points_as_it_re_sends_up_to_what_was_delivered_or_in_flight() -> None:
    ledger = InFlight(pools={0: 25})
    assert ledger.settle(0, key=1, points=3) == 3
    assert ledger.settle(0, key=2, points=100) == 22
    assert ledger.settle(0, key=3, points=100) == 0


def test_copies_beyond_the_first_count_at_once_whether_or_not_they_are_sent_again() -> None:
    # one try posted 0-10 and sent 5-10 again (its answer lost); the next posted 0-4 and died too; 2 extra points
    twice, union = _overlaid([Span(0, 10), Span(5, 10, copies=2, extra=0), Span(0, 4), Span(20, 22, extra=2)])
    assert twice == 5 * 2 + 4 + 2
    assert union == [Span(0, 10), Span(20, 22)]
