from textkit import title_case


def test_title_case_capitalises_each_word() -> None:
    assert title_case("the quick brown fox") == "The Quick Brown Fox"


def test_title_case_keeps_spacing() -> None:
    assert title_case("a  b") == "A  B"
