"""espeak-ng speakers: a language voice plus a variant (``en-us+m3``), checked to really exist.

espeak-ng silently falls back to its default voice for an unknown or wrongly-cased name, so a catalogue
that merely *names* twenty speakers may produce one. :func:`verify_voices` synthesizes a probe phrase with
each voice and with its bare language voice and requires the waveforms to differ (and every language voice
to differ from the default ``en``), raising a DataError that lists every voice that fell back.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass

from asr.errors import DataError

# English accents shipped with espeak-ng (``espeak-ng --voices=en``).
LANGUAGES: tuple[str, ...] = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbcwmd")
# Variants (``espeak-ng --voices=variant``; files in espeak-ng-data/voices/!v, names are case-sensitive).
VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "Andy", "Annie", "Alicia", "Denis", "Lee", "Michael", "steph", "belinda",
    "david", "robert", "linda", "max", "paul", "quincy", "zac", "john",
)  # fmt: skip

PROBE = "the quick brown fox jumps over the lazy dog"


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: voice name, speaking rate (words per minute) and pitch (0..99)."""

    voice: str  # e.g. "en-us+m3"
    rate_wpm: int
    pitch: int

    def espeak_args(self) -> list[str]:
        """Command-line arguments selecting this speaker."""
        return ["-v", self.voice, "-s", str(self.rate_wpm), "-p", str(self.pitch)]


def all_voices(languages=LANGUAGES, variants=VARIANTS) -> list[str]:
    """Every language+variant combination, e.g. ``en-us+m3``."""
    return [f"{lang}+{var}" for lang in languages for var in variants]


def _digest(voice: str) -> str:
    try:
        wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", PROBE], capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise DataError("program 'espeak-ng' not found: install the Debian package 'espeak-ng'") from None
    except subprocess.CalledProcessError as exc:
        raise DataError(f"espeak-ng -v {voice} failed: {exc.stderr.decode(errors='replace').strip()}") from None
    return hashlib.sha1(wav[44:]).hexdigest()  # skip the RIFF header


def verify_voices(languages=LANGUAGES, variants=VARIANTS) -> None:
    """Raise DataError listing every language or variant that espeak-ng does not really provide."""
    default = _digest("en")
    lang_digest = {lang: _digest(lang) for lang in languages}
    bad = [f"language {lang!r}" for lang, d in lang_digest.items() if d == default and lang not in ("en", "en-gb")]
    for var in variants:
        lang = languages[0]
        if _digest(f"{lang}+{var}") == lang_digest[lang]:
            bad.append(f"variant {var!r}")
    if bad:
        raise DataError(
            f"espeak-ng falls back to its default voice for {', '.join(bad)}: check the names against "
            "'espeak-ng --voices=en' and 'espeak-ng --voices=variant' (variant file names are case-sensitive)"
        )
