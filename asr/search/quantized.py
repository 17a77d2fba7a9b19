"""Fake-quantized (``asr.quant``) acoustic models and LMs for decoding with a recipe (the INT4 column).

A QAT checkpoint holds the quantized model's whole state (weights and learned clips), so it is loaded by
building the float model, ``prepare``-ing it with the recipe and loading the state strictly. A float
checkpoint given with a recipe is refused: its activation clips would be uncalibrated.
"""

from __future__ import annotations

from pathlib import Path

from asr.errors import CheckpointError


def quantize_acoustic(path: Path, recipe: str):
    """The RNN-T of model folder ``path`` built float, prepared with ``recipe``, its QAT state loaded."""
    from asr.model import ModelConfig, Transducer
    from asr.model.config import read_sections
    from asr.model.io import load_state
    from asr.quant.prepare import prepare

    cfg = ModelConfig.from_dict(read_sections(path / "config.yaml"), str(path / "config.yaml"))
    qmodel = prepare(Transducer(cfg), recipe, inplace=True)
    state = load_state(path / "model.safetensors")
    own = qmodel.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise CheckpointError(
            f"{path}: float checkpoint, but --recipe {recipe} needs a QAT checkpoint holding the quantizers' "
            f"state (missing e.g. {missing[:3]}); run `asr qat --from {path} --recipe {recipe}` and decode its output"
        )
    qmodel.load_state_dict({k: state[k] for k in own})
    return qmodel.eval()
