"""The shared number formats every view uses."""

from cockpit.fmt import fmt_count


def test_a_count_takes_its_noun_in_the_right_number() -> None:
    assert fmt_count(1, "file") == "1 file"
    assert fmt_count(0, "file") == "0 files"
    assert fmt_count(3, "file") == "3 files"


def test_an_irregular_plural_is_named() -> None:
    assert fmt_count(1, "dispatch", "dispatches") == "1 dispatch"
    assert fmt_count(2, "dispatch", "dispatches") == "2 dispatches"
