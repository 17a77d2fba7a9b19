"""Frozen quantizer configs: *what* to quantize and how, kept apart from the modules that do it.

A config is plain data (torchao style): :func:`asr.quant.quantizers.make_quantizer` turns it into a module.
Every field is validated in ``__post_init__``; a bad value raises :class:`~asr.errors.ConfigError` naming the
field, the value and what is allowed, so a recipe typo fails at load time, not after an hour of QAT.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any

from asr.errors import ConfigError

#: Integer quantizer methods (see ``docs/quantization.md`` for formulas).
INT_METHODS = ("sawb", "pact", "pact2", "fixed", "minmax", "percentile")
#: Methods that compute their range from the tensor itself, hence usable per output channel on weights.
CHANNEL_METHODS = ("sawb", "minmax", "percentile")
#: Emulated floating-point formats: name -> (exponent bits, mantissa bits).
FLOAT_FORMATS = {"fp16": (5, 10), "fp8_e4m3": (4, 3), "fp8_e5m2": (5, 2)}
GRANULARITIES = ("tensor", "channel")


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"quantizer {field} = {value!r}: unknown{hint} (allowed: {', '.join(allowed)})")


@dataclass(frozen=True)
class IntQuantConfig:
    """Uniform integer fake-quantization of one tensor.

    method: sawb (symmetric, clip from weight statistics), pact (learnable clip, unsigned),
        pact2 (learnable lower and upper clip, asymmetric), fixed (symmetric clip given here, for tensors
        bounded by construction), minmax (asymmetric observed range), percentile (symmetric, the given
        percentile of |x|).
    bits: 2..8. Symmetric methods use the narrow range -(2^(b-1)-1)..2^(b-1)-1 (2^b - 1 levels, zero exact);
        pact uses 0..2^b-1 and pact2/minmax use 2^b levels with an integer zero point.
    granularity: "tensor" or "channel" (one scale per output row of a weight; sawb/minmax/percentile only).
    clip: fixed: the clip value (required). pact/pact2: initial upper clip (None: set by calibration).
    percentile: percentile of |x| used as the clip by method "percentile", in (50, 100].
    momentum: weight of the running range kept by minmax/percentile activations (EMA over batches).
    """

    method: str
    bits: int = 8
    granularity: str = "tensor"
    clip: float | None = None
    percentile: float = 99.99
    momentum: float = 0.9

    def __post_init__(self) -> None:
        _choice("method", self.method, INT_METHODS)
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise ConfigError(f"quantizer bits = {self.bits!r}: must be an integer in 2..8")
        _choice("granularity", self.granularity, GRANULARITIES)
        if self.granularity == "channel" and self.method not in CHANNEL_METHODS:
            raise ConfigError(
                f"quantizer granularity = 'channel' with method {self.method!r}: per-channel scales need a "
                f"method that reads the tensor's range ({', '.join(CHANNEL_METHODS)}); use granularity 'tensor'"
            )
        if self.method == "fixed" and self.clip is None:
            raise ConfigError("quantizer method 'fixed' needs clip: the bound of the tensor, e.g. clip: 1.0")
        if self.clip is not None and not (isinstance(self.clip, (int, float)) and self.clip > 0):
            raise ConfigError(f"quantizer clip = {self.clip!r}: must be a number > 0")
        if not 50.0 < float(self.percentile) <= 100.0:
            raise ConfigError(f"quantizer percentile = {self.percentile!r}: must be in (50, 100]")
        if not 0.0 <= float(self.momentum) < 1.0:
            raise ConfigError(f"quantizer momentum = {self.momentum!r}: must be in [0, 1)")

    @property
    def symmetric(self) -> bool:
        return self.method in ("sawb", "fixed", "percentile")

    @property
    def levels(self) -> int:
        """Number of distinct representable values."""
        return 2**self.bits - 1 if self.symmetric else 2**self.bits

    @property
    def storage_bits(self) -> int:
        """Bits one value occupies in the packed export."""
        return self.bits

    def describe(self) -> str:
        gran = "/ch" if self.granularity == "channel" else ""
        return f"int{self.bits} {self.method}{gran}"


@dataclass(frozen=True)
class FloatQuantConfig:
    """Emulated low-precision float (round to nearest even, saturate at the format's largest finite value)."""

    fmt: str = "fp16"

    def __post_init__(self) -> None:
        _choice("fmt", self.fmt, tuple(FLOAT_FORMATS))

    @property
    def storage_bits(self) -> int:
        exp, man = FLOAT_FORMATS[self.fmt]
        return 1 + exp + man

    def describe(self) -> str:
        return self.fmt


QuantConfig = IntQuantConfig | FloatQuantConfig


def config_from_dict(raw: Any, where: str) -> QuantConfig | None:
    """Build a config from a recipe mapping: ``{method: sawb, bits: 4, ...}``, ``{method: fp16}`` or ``none``.

    ``where`` (e.g. ``recipes/int4.yaml: rules[2].weight``) prefixes every error message.
    """
    if raw is None or raw == "none" or raw == {"method": "none"}:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping like {{method: sawb, bits: 4}} or none, got {raw!r}")
    raw = dict(raw)
    method = raw.get("method")
    if method is None:
        raise ConfigError(f"{where}: required key 'method' is missing")
    try:
        if method in FLOAT_FORMATS:
            extra = set(raw) - {"method"}
            if extra:
                raise ConfigError(f"float format {method!r} takes no options, got {sorted(extra)}")
            return FloatQuantConfig(fmt=method)
        allowed = set(IntQuantConfig.__dataclass_fields__)
        unknown = sorted(set(raw) - allowed)
        if unknown:
            close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key {unknown[0]!r}{hint} (allowed: {', '.join(sorted(allowed))})")
        if method not in INT_METHODS:
            _choice("method", method, INT_METHODS + tuple(FLOAT_FORMATS) + ("none",))
        return IntQuantConfig(**raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def config_to_dict(cfg: QuantConfig | None) -> dict | str:
    """Inverse of :func:`config_from_dict` (for resolved-config dumps)."""
    if cfg is None:
        return "none"
    if isinstance(cfg, FloatQuantConfig):
        return {"method": cfg.fmt}
    return asdict(cfg)
