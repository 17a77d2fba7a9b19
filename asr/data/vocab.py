"""The character vocabulary shared by the RNN-T, both LMs and the search: blank + space + a-z + apostrophe.

Id 0 is the RNN-T blank; the prediction network and the LMs also use it as start-of-sequence.
"""

from __future__ import annotations

import re
import unicodedata

BLANK = 0
UNITS: tuple[str, ...] = ("<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "'")
VOCAB_SIZE = len(UNITS)  # 29
_CHAR_TO_ID = {c: i for i, c in enumerate(UNITS) if i != BLANK}

_NUMBER_WORDS = "zero one two three four five six seven eight nine".split()


def normalize_text(text: str) -> str:
    """Lower-case, fold accents, spell single digits, map other punctuation to spaces, squeeze spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = text.replace("`", "'")
    text = re.sub(r"\d", lambda m: f" {_NUMBER_WORDS[int(m.group())]} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not apostrophes inside words
    return re.sub(r" +", " ", text).strip()


def encode(text: str) -> list[int]:
    """Unit ids of an already normalized text; raises ValueError naming the first character out of vocabulary."""
    ids = []
    for pos, ch in enumerate(text):
        i = _CHAR_TO_ID.get(ch)
        if i is None:
            raise ValueError(f"character {ch!r} at position {pos} of {text[:40]!r} is outside the vocabulary")
        ids.append(i)
    return ids


def decode(ids) -> str:
    """Text of unit ids, blanks dropped."""
    return "".join(UNITS[int(i)] for i in ids if int(i) != BLANK)
