"""The shared number formats every view uses."""

from cockpit.fmt import fmt_count


def test_a_count_takes_its_noun_in_the_right_number() -> None:
    assert fmt_count(1, "file") == "1 file"
    assert fmt_count(0, "file") == "0 files"
    assert fmt_count(3, "file") == "3 files"
