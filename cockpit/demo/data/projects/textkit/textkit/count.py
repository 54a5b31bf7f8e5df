def word_count(text: str) -> int:
    """Count the words in ``text``; any run of whitespace separates two words."""
    return len(text.split())
