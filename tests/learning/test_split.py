"""Train / held-out split by a fixed seed: deterministic, stable when records are added,
independent across seeds."""

from __future__ import annotations

from switchyard.learning.dataset import DatasetRecord, Message, ModelAnswer
from switchyard.learning.split import is_held_out, split_dataset, split_point


def records(ids: list[str]) -> list[DatasetRecord]:
    answer = ModelAnswer(quality=1.0, input_tokens=1, output_tokens=1)
    return [
        DatasetRecord(
            id=i, messages=(Message("user", f"q {i}"),), task_type="chat", answers={"m": answer}
        )
        for i in ids
    ]


IDS = [f"r{i:04d}" for i in range(1000)]


def test_same_seed_same_split() -> None:
    """Two runs with one seed give the same sides in the original order."""
    first = split_dataset(records(IDS), seed=7, held_out=0.5)
    again = split_dataset(records(IDS), seed=7, held_out=0.5)
    assert [r.id for r in first.held_out] == [r.id for r in again.held_out]
    assert [r.id for r in first.train] == sorted(r.id for r in first.train)
    assert len(first.train) + len(first.held_out) == 1000


def test_adding_records_moves_no_existing_one() -> None:
    """A record's side depends on its id alone: appending 500 records, or dropping
    some, leaves every other record where it was."""
    before = split_dataset(records(IDS), seed=7)
    after = split_dataset(records([f"new{i}" for i in range(500)] + IDS[::2]), seed=7)
    held_before = {r.id for r in before.held_out}
    held_after = {r.id for r in after.held_out}
    assert {i for i in IDS[::2] if i in held_before} == {i for i in IDS[::2] if i in held_after}


def test_share_and_seeds() -> None:
    """About the asked share is held out; another seed gives a different split; 0 and 1
    hold out nothing and everything."""
    held = {r.id for r in split_dataset(records(IDS), seed=7, held_out=0.3).held_out}
    assert 250 <= len(held) <= 350
    other = {r.id for r in split_dataset(records(IDS), seed=8, held_out=0.3).held_out}
    assert held != other and 40 <= len(held & other) <= 140  # ~0.3 * 0.3 * 1000 = 90
    assert split_dataset(records(IDS), seed=7, held_out=0.0).held_out == []
    assert split_dataset(records(IDS), seed=7, held_out=1.0).train == []


def test_split_point_is_a_fixed_function_of_seed_and_id() -> None:
    """sha256-based, so the same on every machine and process (no salted hash())."""
    point = split_point(7, "r0001")
    assert 0.0 <= point < 1.0
    assert point == split_point(7, "r0001") != split_point(8, "r0001")
    # Pinned value: a change of the hashing would silently reshuffle every split.
    assert round(split_point(20240601, "gsm8k/00000"), 6) == 0.304093
    assert is_held_out(7, "r0001", point + 1e-9) and not is_held_out(7, "r0001", point)
