"""Quantization-aware training to INT4/INT8: quantizer configs, fake-quant modules, recipes, integer inference.

Entry points (torchao style)::

    from asr.quant import load_recipe, prepare, calibration, convert
    qmodel = prepare(model, load_recipe("recipes/int4.yaml"))   # fake-quant copy for QAT
    with calibration(qmodel):                                    # activation ranges from a few batches
        qmodel(batch)
    imodel = convert(qmodel, "int")                              # integer inference modules

See ``docs/quantization.md``.
"""

from asr.quant.config import FloatQuantConfig, IntQuantConfig, config_from_dict
from asr.quant.linear import QuantEmbedding, QuantLinear
from asr.quant.lstm import QuantLSTM
from asr.quant.prepare import calibration, convert, prepare, quant_modules
from asr.quant.recipe import Recipe, Rule, load_recipe, parse_recipe

__all__ = [
    "FloatQuantConfig", "IntQuantConfig", "QuantEmbedding", "QuantLSTM", "QuantLinear", "Recipe", "Rule",
    "calibration", "config_from_dict", "convert", "load_recipe", "parse_recipe", "prepare", "quant_modules",
]
