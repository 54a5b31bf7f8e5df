"""A deterministic token estimate: a backend sizing a prompt no server has counted, and the simulators.

Real tokenizers average about four characters of English or code per token; the estimate only
has to move the way a real count moves (with prompt size), so budgets and figures are honest.
"""

from __future__ import annotations

import re

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """About one token per 4 characters of a word, one per punctuation mark; never 0 for text."""
    if not text:
        return 0
    n = 0
    for piece in _PIECE.findall(text):
        n += (len(piece) + 3) // 4
    return max(1, n)
