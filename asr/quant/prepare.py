"""The entry points: ``prepare(model, recipe)`` swaps modules for fake-quantized ones, ``convert`` goes on.

Works on any ``nn.Module`` tree (the RNN-T, the character LMs, a test's toy net): every ``nn.LSTM``,
``nn.Linear`` and ``nn.Embedding`` whose dotted path matches a recipe rule of its kind is replaced, the rest is
left as it is (float). ``convert(model, "int")`` gives the integer inference modules of :mod:`asr.quant.integer`,
``convert(model, "float")`` the plain ``torch.nn`` modules again (same parameters).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import nn

from asr.quant.linear import QuantEmbedding, QuantLinear
from asr.quant.lstm import QuantLSTM
from asr.quant.quantizers import FloatQuantizer, IntQuantizer
from asr.quant.recipe import Recipe, load_recipe

KIND_OF = {nn.LSTM: "lstm", nn.Linear: "linear", nn.Embedding: "embedding"}
QUANT_MODULES = (QuantLSTM, QuantLinear, QuantEmbedding)


def _set_module(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, new)


def prepare(model: nn.Module, recipe: Recipe | str | Path, inplace: bool = False) -> nn.Module:
    """Fake-quantized copy of ``model`` (or ``model`` itself when ``inplace``) following ``recipe``.

    Parameters are shared with the returned modules when ``inplace`` and copied otherwise. The returned model
    carries ``quant_recipe`` (the Recipe) for export and tracing.
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    if not inplace:
        model = copy.deepcopy(model)
    swaps = []
    for path, mod in model.named_modules():
        kind = KIND_OF.get(type(mod))
        if kind is None or not path:
            continue
        rule = recipe.rule_for(path, kind)
        if rule is None:
            continue
        if kind == "lstm":
            new = QuantLSTM.from_float(mod, rule.weight, rule.input, rule.hidden, bool(rule.wide), path)
        elif kind == "linear":
            new = QuantLinear.from_float(mod, rule.weight, rule.input, bool(rule.wide), path)
        else:
            new = QuantEmbedding.from_float(mod, rule.weight, False, path)
        new.quant_rule = rule
        swaps.append((path, new.train(mod.training)))
    for path, new in swaps:
        _set_module(model, path, new)
    model.quant_recipe = recipe
    return model


def quant_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """(path, module) of every quantized module (fake-quant or integer) in ``model``."""
    from asr.quant.integer import INT_MODULES

    for path, mod in model.named_modules():
        if isinstance(mod, QUANT_MODULES + INT_MODULES):
            yield path, mod


@contextmanager
def calibration(model: nn.Module):
    """Activation quantizers observe (without quantizing) inside the block and set their ranges at exit."""
    qs = [m for m in model.modules() if isinstance(m, (IntQuantizer, FloatQuantizer))]
    for q in qs:
        q.calibrating = True
    try:
        yield model
    finally:
        for q in qs:
            q.finish_calibration()


def convert(model: nn.Module, to: str = "int", inplace: bool = False) -> nn.Module:
    """Turn a prepared model into integer inference modules (``to="int"``) or plain float ones (``"float"``)."""
    from asr.quant.integer import IntEmbedding, IntLinear, IntLSTM

    if to not in ("int", "float"):
        raise ValueError(f"convert(to={to!r}): must be 'int' or 'float'")
    if not inplace:
        model = copy.deepcopy(model)
    swaps = []
    for path, mod in model.named_modules():
        if not path or not isinstance(mod, QUANT_MODULES):
            continue
        if to == "float":
            new = mod.to_float()
        elif isinstance(mod, QuantLSTM):
            new = IntLSTM.from_quant(mod)
        elif isinstance(mod, QuantLinear):
            new = IntLinear.from_quant(mod)
        else:
            new = IntEmbedding.from_quant(mod)
        swaps.append((path, new.train(mod.training)))
    for path, new in swaps:
        _set_module(model, path, new)
    if to == "float" and hasattr(model, "quant_recipe"):
        del model.quant_recipe
    return model
