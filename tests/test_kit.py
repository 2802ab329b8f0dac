"""The test kit's catalog matching: a message is found by its key, whatever its wording."""

from __future__ import annotations

import pytest

from tests.kit import heard, said, zh


def test_a_message_is_heard_with_its_values_and_not_with_others() -> None:
    text = "前言\n" + zh("desk.merge.record", id=7, name="宁德时代", leads=1, visits=2, projects=0, library=3)
    assert heard(text, "desk.merge.record", id=7, name="宁德时代", leads=1, visits=2, projects=0, library=3)
    assert heard(text, "desk.merge.record", id=7)  # the other placeholders stand for any value
    assert not heard(text, "desk.merge.record", id=8)
    assert not heard(text, "desk.merge.record", name="比亚迪")
    assert not heard(text, "desk.merge.done")


def test_english_is_matched_in_english() -> None:
    text = zh("desk.merge.err.none", text="x")
    assert not heard(text, "desk.merge.err.none", "en", text="x")
    assert heard(text, "desk.merge.err.none", "zh", text="x")


def test_an_unknown_key_fails_loudly() -> None:
    with pytest.raises(AssertionError, match=r"no 'desk\.merge\.nope'"):
        said("desk.merge.nope")
