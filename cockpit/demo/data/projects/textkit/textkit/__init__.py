"""Small, dependency-free text utilities."""

from textkit.case import title_case
from textkit.count import word_count

__all__ = [
    "title_case",
    "word_count",
]
