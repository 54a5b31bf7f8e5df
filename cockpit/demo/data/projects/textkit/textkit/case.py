def title_case(text: str) -> str:
    """Capitalise the first letter of every word, keeping the spacing as it was."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))
