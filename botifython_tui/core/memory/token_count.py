"""A tokenizer-free bound on word pieces: used when `tokenizers` is missing, and by the test embedder.

A leaf module, so the chunker and the embedders can both use it without importing each other.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def approximate_count(texts: Sequence[str]) -> list[int]:
    """An upper bound of BERT word pieces when no tokenizer is installed: every word and every
    punctuation mark is one piece, long words a piece per 3 characters."""
    return [
        sum(max(1, math.ceil(len(w) / 3)) for w in re.findall(r"\w+|[^\w\s]", t)) for t in texts
    ]
