"""Which traced weights run as ``matmul_wide``: asked of the quantization recipe by module path.

Trace weight names (``encoder.l0.fwd.w_ih``) are mapped to the module paths and operands the recipe's rules
match (``encoder.layers.0``, lstm, input). The LMs are separate models, so their paths (``embedding``,
``lstm``, ``output``) are matched against their own recipe. Without a recipe every matmul is class ``matmul``
and the architecture's precision policy alone decides.
"""

from __future__ import annotations

import re

from asr.trace.dims import TraceDims

_ENC = re.compile(r"encoder\.l(\d+)\.(fwd|bwd)\.w_(ih|hh)")
_LM = re.compile(r"(lm_target|lm_source)\.(?:l(\d+)\.w_(ih|hh)|(out)|(embedding))")
_FIXED = {
    "joint.enc_proj": ("joiner.enc_proj", "linear", "input"),
    "joint.pred_proj": ("joiner.pred_proj", "linear", "input"),
    "joint.out": ("joiner.out", "linear", "input"),
    "prediction.embedding": ("predictor.embedding", "embedding", "input"),
    "prediction.l0.w_ih": ("predictor.lstm", "lstm", "input"),
    "prediction.l0.w_hh": ("predictor.lstm", "lstm", "hidden"),
}
_OPERAND = {"ih": "input", "hh": "hidden"}


def module_of(weight: str) -> tuple[str, str, str, str]:
    """(model, module path, kind, operand) of a trace weight; model is "rnnt" or the LM phase."""
    if weight in _FIXED:
        return ("rnnt", *_FIXED[weight])
    m = _ENC.fullmatch(weight)
    if m:
        return "rnnt", f"encoder.layers.{m.group(1)}", "lstm", _OPERAND[m.group(3)]
    m = _LM.fullmatch(weight)
    if m:
        if m.group(4):
            return m.group(1), "output", "linear", "input"
        if m.group(5):
            return m.group(1), "embedding", "embedding", "input"
        return m.group(1), "lstm", "lstm", _OPERAND[m.group(3)]
    raise KeyError(f"trace weight {weight!r} has no module mapping")


def wide_weights(weights: list[str], recipe=None, lm_recipes: dict | None = None) -> frozenset[str]:
    """Names among ``weights`` whose matmul the recipe runs as ``matmul_wide`` (embeddings: stored wide)."""
    if recipe is None:
        return frozenset()
    lm_recipes = lm_recipes or {}
    wide = set()
    for w in weights:
        model, path, kind, operand = module_of(w)
        r = recipe if model == "rnnt" else lm_recipes.get(model, recipe)
        if r.rule_for(path, kind) is None or (kind != "embedding" and r.matmul_pclass(path, kind, operand)
                                               == "matmul_wide"):
            wide.add(w)
    return frozenset(wide)


def all_weight_names(dims: TraceDims) -> list[str]:
    from accelsim.trace.builder import TraceBuilder
    from asr.trace.emit import declare_weights

    tb = TraceBuilder()
    declare_weights(tb, dims)
    return list(tb.weights)
