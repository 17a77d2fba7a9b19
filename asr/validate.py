"""Input boundary of the speech side for numbers: command-line values, fusion weights, loaded weights, results.

- :func:`finite_float` / :func:`positive_int` are ``argparse`` types: ``--lambda nan`` or ``--beam true`` end
  the command with exit 2 and a usage message, before anything loads;
- :func:`check_fusion_values` refuses non-finite LM weights from any source (flags or a tuned weights file);
- :func:`check_finite_parameters` refuses a model or LM whose weights hold NaN or infinity (an all-NaN
  checkpoint would otherwise decode silently to empty hypotheses);
- :func:`check_decode_summary` refuses a decode whose WER or RTF is non-finite or negative, naming the inputs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import Any

from accelsim.errors import ResultError
from asr.errors import CheckpointError


def finite_float(text: str) -> float:
    """``argparse`` type: a finite float (``nan``, ``inf`` and non-numbers are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: expected a finite number")
    return value


def positive_int(text: str) -> int:
    """``argparse`` type: a whole number >= 1 (``2.5``, ``true`` and ``1e3`` are refused)."""
    stripped = text.strip()
    if not stripped.lstrip("+").isdigit():
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: expected a whole number >= 1")
    value = int(stripped)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: expected a whole number >= 1")
    return value


def check_fusion_values(**values: float) -> None:
    """Raise ValueError naming the first weight (lambda, mu, rho) that is not a finite number."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"fusion weight {name} = {value!r}: expected a finite number")


def check_finite_parameters(module: Any, where: str) -> None:
    """Raise CheckpointError when any parameter or buffer of the torch ``module`` holds NaN or infinity."""
    import torch

    tensors = list(module.named_parameters()) + list(module.named_buffers())
    bad = []
    for name, tensor in tensors:
        if torch.is_floating_point(tensor) and not bool(torch.isfinite(tensor).all()):
            share = float((~torch.isfinite(tensor)).float().mean())
            bad.append(f"{name} ({share:.0%} non-finite)")
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise CheckpointError(
            f"{where}: weights hold NaN or infinity: {', '.join(bad[:5])}{more}; the checkpoint is corrupt or its "
            "training diverged: retrain or pick an earlier checkpoint"
        )


def check_decode_summary(summary: Mapping[str, Any], where: str, keys: tuple[str, ...] = (
        "wer_percent", "audio_s", "rtf", "rtf_search", "rtf_cpu")) -> None:
    """Raise ResultError when a WER, audio length or RTF of a decode is non-finite or negative."""
    bad = []
    for key in keys:
        value = summary.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or value < 0:
                bad.append(f"{key} = {value!r}")
    if bad:
        raise ResultError(f"{where}: the decode produced impossible results ({', '.join(bad)}); check the manifest "
                          "durations and the model and LM folders")
