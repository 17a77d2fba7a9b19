"""Packed export of an integer model: INT4 codes two per byte (INT2 four per byte), scales in FP16.

Layout of ``model.packed.safetensors`` (one entry per tensor; ``__metadata__["layout"]`` is JSON describing
each weight: shape, bits, signed, per_channel):

- ``<path>.<weight>.codes``  uint8, codes packed little-end first (value 0 in the low bits of byte 0)
- ``<path>.<weight>.scale``  float16 (out,) or (1,); ``.zero`` int8, only for asymmetric weights
- ``<path>.bias*``           float16 (LSTM: b_ih + b_hh folded into one vector, they are always added)
- ``<path>.act.<i>``         float16 (scale, zero) of each activation quantizer
- ``float.<name>``           float16 copies of parameters the recipe leaves unquantized

Signed codes are stored in two's complement within their field. Bits 3, 5..7 use the next container (4, 8).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from accelsim.atomic import atomic_write
from asr.errors import CheckpointError
from asr.quant.integer import IntEmbedding, IntLinear, IntLSTM, IntWeight

PACKED_FILE = "model.packed.safetensors"


def container_bits(bits: int) -> int:
    """Field width used to store ``bits``-bit codes: 2, 4 or 8."""
    return 2 if bits <= 2 else 4 if bits <= 4 else 8


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Integer codes (any shape, values fit ``bits``) -> flat uint8, ``8 // container`` codes per byte."""
    width = container_bits(bits)
    flat = codes.reshape(-1).to(torch.int32) & ((1 << width) - 1)  # two's complement field
    per = 8 // width
    pad = (-flat.numel()) % per
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    flat = flat.view(-1, per)
    out = torch.zeros(flat.shape[0], dtype=torch.int32)
    for j in range(per):
        out |= flat[:, j] << (j * width)
    return out.to(torch.uint8)


def unpack_codes(packed: torch.Tensor, bits: int, count: int, signed: bool) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: the first ``count`` codes as int16 (sign-extended when ``signed``)."""
    width = container_bits(bits)
    per = 8 // width
    b = packed.to(torch.int32).unsqueeze(1)  # (N, 1)
    shifts = torch.arange(per, dtype=torch.int32) * width
    vals = ((b >> shifts) & ((1 << width) - 1)).reshape(-1)[:count]
    if signed:
        vals = torch.where(vals >= (1 << (width - 1)), vals - (1 << width), vals)
    return vals.to(torch.int16)


@dataclass
class ExportReport:
    """Byte accounting of one export: what was packed and what stayed wider (and why)."""

    fp32_bytes: int = 0
    packed_bytes: int = 0
    rows: list[dict] = field(default_factory=list)  # per tensor: name, params, bits, bytes, note

    @property
    def ratio(self) -> float:
        return self.fp32_bytes / max(1, self.packed_bytes)

    def add(self, name: str, tensor: torch.Tensor, params: int, bits: int, note: str) -> None:
        nbytes = tensor.numel() * tensor.element_size()
        self.packed_bytes += nbytes
        self.rows.append({"name": name, "params": params, "bits": bits, "bytes": nbytes, "note": note})


def _add_weight(tensors, layout, report, name: str, w: IntWeight) -> int:
    if not w.is_int:
        t = w.w_float.half().contiguous()
        tensors[name] = t
        report.add(name, t, t.numel(), 16, "weight not quantized by the recipe: FP16")
        return t.numel()
    n = w.codes.numel()
    signed = bool(w.symmetric)
    codes = w.codes if signed else w.codes.to(torch.int32)
    tensors[f"{name}.codes"] = pack_codes(codes, w.bits)
    report.add(f"{name}.codes", tensors[f"{name}.codes"], n, w.bits, f"int{w.bits} codes, {8 // container_bits(w.bits)} per byte")
    tensors[f"{name}.scale"] = w.scale.reshape(-1).half().contiguous()
    report.add(f"{name}.scale", tensors[f"{name}.scale"], 0, 16,
               "per-channel scales FP16" if w.per_channel else "per-tensor scale FP16")
    if not signed:
        tensors[f"{name}.zero"] = w.zero.reshape(-1).to(torch.int8).contiguous()
        report.add(f"{name}.zero", tensors[f"{name}.zero"], 0, 8, "zero points (asymmetric weight)")
    layout[name] = {"shape": list(w.codes.shape), "bits": w.bits, "signed": signed, "per_channel": w.per_channel}
    return n


def _add_acts(tensors, report, name: str, acts) -> None:
    for i, a in enumerate(acts):
        if a is not None and a.fmt is None:
            t = torch.tensor([a.scale, a.zero], dtype=torch.float16)
            tensors[f"{name}.act.{i}"] = t
            report.add(f"{name}.act.{i}", t, 0, 16, "activation scale and zero point FP16")


def named_int_weights(model: nn.Module) -> dict[str, IntWeight]:
    """Every frozen weight of an integer model under its export name (``<module path>.weight...``)."""
    out: dict[str, IntWeight] = {}
    for path, mod in model.named_modules():
        if isinstance(mod, IntLSTM):
            for key in mod.w_ih:
                out[f"{path}.weight_ih_{key}"] = mod.w_ih[key]
                out[f"{path}.weight_hh_{key}"] = mod.w_hh[key]
        elif isinstance(mod, (IntLinear, IntEmbedding)):
            out[f"{path}.weight"] = mod.weight
    return out


def build_export(model: nn.Module, fp32_params: int) -> tuple[dict[str, torch.Tensor], dict, ExportReport]:
    """Packed tensors, layout and byte report of a ``convert(..., "int")`` model.

    ``fp32_params``: parameter count of the float model (the FP32 baseline is ``4 * fp32_params`` bytes).
    """
    tensors: dict[str, torch.Tensor] = {}
    layout: dict[str, dict] = {}
    report = ExportReport(fp32_bytes=4 * fp32_params)
    covered = 0
    int_paths = []
    for path, mod in model.named_modules():
        if isinstance(mod, IntLSTM):
            for key in mod.w_ih:
                covered += _add_weight(tensors, layout, report, f"{path}.weight_ih_{key}", mod.w_ih[key])
                covered += _add_weight(tensors, layout, report, f"{path}.weight_hh_{key}", mod.w_hh[key])
                b = getattr(mod, f"bias_{key}")
                if b is not None:
                    tensors[f"{path}.bias_{key}"] = b.half().contiguous()
                    report.add(f"{path}.bias_{key}", tensors[f"{path}.bias_{key}"], 2 * b.numel(), 16,
                               "bias FP16 (b_ih + b_hh folded; added after the integer accumulation)")
                    covered += 2 * b.numel()
            _add_acts(tensors, report, path + ".input", mod.act_in)
            _add_acts(tensors, report, path + ".hidden", mod.act_h)
        elif isinstance(mod, IntLinear):
            covered += _add_weight(tensors, layout, report, f"{path}.weight", mod.weight)
            if mod.bias is not None:
                tensors[f"{path}.bias"] = mod.bias.half().contiguous()
                report.add(f"{path}.bias", tensors[f"{path}.bias"], mod.bias.numel(), 16,
                           "bias FP16 (added after the integer accumulation)")
                covered += mod.bias.numel()
            _add_acts(tensors, report, path + ".input", [mod.act])
        elif isinstance(mod, IntEmbedding):
            covered += _add_weight(tensors, layout, report, f"{path}.weight", mod.weight)
        else:
            continue
        int_paths.append(path)
    for name, p in model.named_parameters():  # what the recipe left float
        t = p.detach().half().contiguous()
        tensors[f"float.{name}"] = t
        report.add(f"float.{name}", t, t.numel(), 16, "not matched by the recipe: FP16")
        covered += t.numel()
    if covered != fp32_params:
        raise ValueError(f"export covers {covered} parameters but the float model has {fp32_params}")
    return tensors, layout, report


def write_packed(path: str | Path, tensors: dict[str, torch.Tensor], layout: dict, meta: dict) -> None:
    """Atomically write the packed safetensors file with ``layout`` and ``meta`` in its metadata."""
    md = {"layout": json.dumps(layout, sort_keys=True), "meta": json.dumps(meta, sort_keys=True)}
    atomic_write(path, lambda p: save_file(tensors, str(p), metadata=md))


def read_packed(path: str | Path) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(tensors, layout, meta) of a packed file; CheckpointError when missing or corrupt."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: packed model not found (write one with `asr export`)")
    try:
        with safe_open(str(p), "pt") as fh:
            md = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        return tensors, json.loads(md["layout"]), json.loads(md["meta"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{p}: corrupt packed model ({exc})") from None


def unpacked_weight(tensors: dict[str, torch.Tensor], layout: dict, name: str) -> torch.Tensor:
    """Dequantized float weight ``name`` from a packed file (for checks and float fallback loading)."""
    info = layout[name]
    count = 1
    for d in info["shape"]:
        count *= d
    codes = unpack_codes(tensors[f"{name}.codes"], info["bits"], count, info["signed"]).to(torch.int32)
    codes = codes.view(*info["shape"])
    zero = tensors[f"{name}.zero"].to(torch.int32).view(-1, 1) if f"{name}.zero" in tensors else 0
    return (codes - zero).float() * tensors[f"{name}.scale"].float().view(-1, 1)


def is_packed_dir(path: str | Path) -> bool:
    """True for a folder written by ``asr export`` (``model.packed.safetensors`` + config.yaml + recipe.yaml)."""
    return (Path(path) / PACKED_FILE).is_file()


def _fill_weight(w: IntWeight, tensors: dict[str, torch.Tensor], layout: dict, name: str, where: str) -> None:
    """Set an integer-model weight from its packed entries (codes, FP16 scales, zero points) in place."""
    if not w.is_int:
        if name not in tensors:
            raise CheckpointError(f"{where}: no tensor {name!r} (FP16 weight expected by the recipe)")
        w.w_float = tensors[name].float()
        return
    info = layout.get(name)
    if info is None or f"{name}.codes" not in tensors:
        raise CheckpointError(f"{where}: no packed weight {name!r} (the recipe quantizes it)")
    if list(info["shape"]) != list(w.codes.shape) or info["bits"] != w.bits or bool(info["signed"]) != bool(w.symmetric):
        raise CheckpointError(f"{where}: {name}: file has shape {info['shape']} int{info['bits']} signed={info['signed']}, "
                              f"config and recipe expect {list(w.codes.shape)} int{w.bits} signed={bool(w.symmetric)}")
    count = w.codes.numel()
    codes = unpack_codes(tensors[f"{name}.codes"], info["bits"], count, info["signed"]).view(*info["shape"])
    w.codes = codes.to(w.codes.dtype)
    rows = w.codes.shape[0] if w.per_channel else 1
    w.scale = tensors[f"{name}.scale"].float().reshape(rows, 1)
    zero = tensors.get(f"{name}.zero")
    w.zero = (zero.to(torch.int32).reshape(rows, 1) if zero is not None else torch.zeros(rows, 1, dtype=torch.int32))


def _fill_acts(acts: list, tensors: dict[str, torch.Tensor], name: str, where: str) -> list:
    """Activation quantizers with the (scale, zero) stored in the file (integer ones; float formats kept)."""
    from dataclasses import replace

    out = []
    for i, a in enumerate(acts):
        if a is not None and a.fmt is None:
            key = f"{name}.act.{i}"
            if key not in tensors:
                raise CheckpointError(f"{where}: no activation quantizer {key!r}")
            scale, zero = (float(v) for v in tensors[key].float())
            a = replace(a, scale=scale, zero=zero)
        out.append(a)
    return out


def load_packed(path_dir: str | Path):
    """(integer model in eval mode, ModelConfig, Recipe) from a folder written by ``asr export``.

    The model is built from config.yaml and recipe.yaml, converted to the integer modules of
    :mod:`asr.quant.integer`, and every weight, bias and activation range is set from the packed file:
    the model that runs is exactly the shipped file (FP16 scales and biases included).
    """
    from asr.model.transducer import Transducer
    from asr.quant.io import read_config_and_recipe
    from asr.quant.prepare import convert, prepare

    d = Path(path_dir)
    if not is_packed_dir(d):
        raise CheckpointError(f"{d}: not a packed model folder (expected {PACKED_FILE}, config.yaml, recipe.yaml; "
                              "write one with `asr export`)")
    cfg, recipe = read_config_and_recipe(d)
    where = str(d / PACKED_FILE)
    tensors, layout, meta = read_packed(d / PACKED_FILE)
    if meta.get("recipe") not in (None, recipe.name):
        raise CheckpointError(f"{where}: packed with recipe {meta.get('recipe')!r}, but {d / 'recipe.yaml'} is "
                              f"{recipe.name!r}")
    model = convert(prepare(Transducer(cfg), recipe, inplace=True), "int", inplace=True)
    with torch.no_grad():
        for path, mod in model.named_modules():
            if isinstance(mod, IntLSTM):
                for key in mod.w_ih:
                    _fill_weight(mod.w_ih[key], tensors, layout, f"{path}.weight_ih_{key}", where)
                    _fill_weight(mod.w_hh[key], tensors, layout, f"{path}.weight_hh_{key}", where)
                    if getattr(mod, f"bias_{key}") is not None:
                        setattr(mod, f"bias_{key}", _tensor(tensors, f"{path}.bias_{key}", where).float())
                mod.act_in = _fill_acts(mod.act_in, tensors, path + ".input", where)
                mod.act_h = _fill_acts(mod.act_h, tensors, path + ".hidden", where)
            elif isinstance(mod, IntLinear):
                _fill_weight(mod.weight, tensors, layout, f"{path}.weight", where)
                if mod.bias is not None:
                    mod.bias = _tensor(tensors, f"{path}.bias", where).float()
                mod.act = _fill_acts([mod.act], tensors, path + ".input", where)[0]
            elif isinstance(mod, IntEmbedding):
                _fill_weight(mod.weight, tensors, layout, f"{path}.weight", where)
        for name, p in model.named_parameters():
            p.copy_(_tensor(tensors, f"float.{name}", where).float())
    model.quant_recipe = recipe
    return model.eval(), cfg, recipe


def _tensor(tensors: dict[str, torch.Tensor], key: str, where: str) -> torch.Tensor:
    if key not in tensors:
        raise CheckpointError(f"{where}: tensor {key!r} missing")
    return tensors[key]
