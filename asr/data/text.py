"""Text domains from Debian packages: fortunes (source domain) and the King James Bible (target domain).

Each reader yields raw sentences; :func:`clean_sentences` keeps those a speech synthesizer reads exactly as
the normalized transcript says (no digits, no acronyms, no symbols spoken as words), normalizes them with the
shared vocabulary, filters by word count and removes duplicates. :func:`split_sentences` makes disjoint,
seeded train/dev/test splits.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from asr.data.vocab import normalize_text
from asr.errors import DataError

FORTUNES_DIR = Path("/usr/share/games/fortunes")
BIBLE_DATA = Path("/usr/lib/bible.data")

# Characters a sentence may contain before normalization; anything else (digits, $, %, &, @, #, /, *, ...) is
# read aloud by espeak-ng in a way the normalized transcript would not match, so the sentence is dropped.
_ALLOWED_RAW = re.compile(r"^[A-Za-z .,;:!?'\"()\-]+$")
_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")  # spelled letter by letter by the synthesizer
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z])")
_ATTRIBUTION = re.compile(r"^\s*--")
_VERSE_NUMBER = re.compile(r"^\s*\d+\s+")


def read_fortunes(root: Path = FORTUNES_DIR) -> Iterator[str]:
    """Sentences of every fortune file under ``root`` (not the offensive ``off/`` set), attributions removed.

    A fortune file is plain text with records separated by lines holding a single ``%``; a record's
    attribution is its trailing lines starting with ``--``.
    """
    if not root.is_dir():
        raise DataError(f"{root}: fortune files not found; install the Debian package 'fortunes'")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix == "")
    if not files:
        raise DataError(f"{root}: no fortune files (expected files without extension beside their .dat)")
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for record in text.split("\n%\n"):
            lines = [ln for ln in record.splitlines() if not _ATTRIBUTION.match(ln)]
            body = " ".join(ln.strip() for ln in lines if ln.strip())
            yield from _SENTENCE_END.split(body)


def read_bible(data: Path = BIBLE_DATA) -> Iterator[str]:
    """Clauses of the KJV Bible: verses from the ``bible`` program (package bible-kjv), split at . ; : ? !

    ``/usr/lib/bible.data`` (package bible-kjv-text) is compressed; the ``bible`` program of package
    bible-kjv decodes it. Verses are long, so they are cut at clause punctuation to give utterance-sized text.
    """
    if not data.is_file():
        raise DataError(f"{data}: KJV text not found; install the Debian packages 'bible-kjv-text' and 'bible-kjv'")
    try:
        out = subprocess.run(
            ["bible", "-l0", "-p", str(data.parent), "ge1:1-re22:21"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except FileNotFoundError:
        raise DataError("program 'bible' not found: install the Debian package 'bible-kjv' to read the KJV") from None
    except subprocess.CalledProcessError as exc:
        raise DataError(f"{data}: 'bible' failed with exit code {exc.returncode}: {exc.stderr.strip()}") from None
    for line in out.splitlines():
        if not _VERSE_NUMBER.match(line):
            continue  # book/chapter headings and blank lines
        verse = _VERSE_NUMBER.sub("", line)
        yield from (c for c in re.split(r"(?<=[.;:?!])\s+", verse) if c)


def clean_sentences(raw: Iterable[str], min_words: int = 3, max_words: int = 20) -> list[str]:
    """Normalized, de-duplicated sentences of ``min_words``..``max_words`` words, in first-seen order."""
    seen: set[str] = set()
    out = []
    for sentence in raw:
        s = sentence.strip()
        if not s or not _ALLOWED_RAW.match(s) or _ACRONYM.search(s):
            continue
        norm = normalize_text(s)
        n = len(norm.split())
        if min_words <= n <= max_words and norm not in seen:
            seen.add(norm)
            out.append(norm)
    return out


def split_sentences(sentences: list[str], sizes: dict[str, int], seed: int) -> dict[str, list[str]]:
    """Disjoint random splits of the given sizes (a size of -1 takes all that remain), seeded.

    Raises DataError when the sentences do not suffice.
    """
    pool = list(sentences)
    random.Random(seed).shuffle(pool)
    fixed = sum(n for n in sizes.values() if n >= 0)
    if fixed > len(pool):
        raise DataError(f"split sizes {sizes} need {fixed} sentences but only {len(pool)} are available")
    out, pos = {}, 0
    for name, n in sizes.items():
        take = len(pool) - fixed if n < 0 else n
        out[name] = pool[pos : pos + take]
        pos += take
    return out
