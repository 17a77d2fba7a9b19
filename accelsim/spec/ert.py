"""Energy reference tables (ERT): per-action energies from another estimator, read without code changes.

Action names (all energies in pJ): ``mac.<precision>``, ``sfu.<precision>.<class>`` (class one of
:data:`accelsim.spec.schema.SFU_CLASSES`), ``scratchpad.read_byte``, ``scratchpad.write_byte``, ``dram.byte``,
``ring.byte_hop``, ``dma.setup``. An architecture's ``energy:`` fields map onto them
(:func:`actions_from_spec`); an ERT file given as ``energy: {ert: FILE}`` overrides those it names.

Two file layouts are read:

- Accelergy's ERT (``ERT: {version: .., tables: [{name: COMPONENT, actions: [{name: ACTION, energy: pJ}]}]}``):
  each ``COMPONENT.ACTION`` (array ranges such as ``core[0..3]`` dropped) must *end with* one of our action
  names in whole dotted parts, e.g. table ``system.chip.core[0..3].mac`` with action ``int4`` -> ``mac.int4``.
- A flat table: ``energy_pJ: {mac.int4: 0.05, dram.byte: 57.0, ...}``.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path

from accelsim.errors import SpecError
from accelsim.spec.schema import PRECISION_BYTES, SFU_CLASSES, Energy
from accelsim.yamlio import load_yaml

SCALAR_ACTIONS = {
    "scratchpad.read_byte": "scratchpad_read_pJ_per_byte",
    "scratchpad.write_byte": "scratchpad_write_pJ_per_byte",
    "dram.byte": "dram_pJ_per_byte",
    "ring.byte_hop": "ring_pJ_per_byte_hop",
    "dma.setup": "dma_setup_pJ",
}


def action_names() -> tuple[str, ...]:
    """Every action an energy table may price, in a fixed order."""
    macs = tuple(f"mac.{p}" for p in PRECISION_BYTES)
    sfu = tuple(f"sfu.{p}.{c}" for p in PRECISION_BYTES for c in SFU_CLASSES)
    return (*macs, *sfu, *SCALAR_ACTIONS)


def actions_from_spec(energy: Energy) -> dict[str, float]:
    """The per-action energies (pJ) an ``energy:`` section gives directly (fields left out are absent)."""
    out = {f"mac.{p}": float(v) for p, v in energy.mac_pJ.items()}
    for p, classes in energy.sfu_op_pJ.items():
        out.update({f"sfu.{p}.{c}": float(v) for c, v in classes.items()})
    for action, field in SCALAR_ACTIONS.items():
        value = getattr(energy, field)
        if value is not None:
            out[action] = float(value)
    return out


def _match(where: str, key: str, names: tuple[str, ...]) -> str:
    parts = key.split(".")
    for name in sorted(names, key=lambda n: -n.count(".")):
        width = name.count(".") + 1
        if parts[-width:] == name.split("."):
            return name
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SpecError(f"{where}: action {key!r} names no action of the energy model{hint} "
                    f"(allowed, possibly after a component prefix: {', '.join(names)})")


def _energy_value(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SpecError(f"{where}: {key} energy = {value!r}: expected a finite number of pJ >= 0")
    return float(value)


def load_ert(path: str | Path) -> dict[str, float]:
    """Per-action energies (pJ) of an ERT file in either layout (module doc); SpecError on anything else."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{p}: energy reference table (energy.ert) not found")
    raw = load_yaml(p, SpecError)
    names = action_names()
    out: dict[str, float] = {}

    def put(key: str, value: object) -> None:
        action = _match(str(p), key, names)
        if action in out:
            raise SpecError(f"{p}: action {action!r} is given twice (second time as {key!r}); keep one")
        out[action] = _energy_value(str(p), key, value)

    if isinstance(raw, dict) and isinstance(raw.get("energy_pJ"), dict):
        for key, value in raw["energy_pJ"].items():
            put(str(key), value)
        return out
    tables = raw.get("ERT", {}).get("tables") if isinstance(raw, dict) and isinstance(raw.get("ERT"), dict) else None
    if not isinstance(tables, list):
        raise SpecError(f"{p}: expected an Accelergy ERT (ERT: {{tables: [...]}}) or a flat energy_pJ: mapping")
    for i, table in enumerate(tables):
        if not isinstance(table, dict) or not isinstance(table.get("name"), str) or \
                not isinstance(table.get("actions"), list):
            raise SpecError(f"{p}: ERT.tables[{i}]: expected {{name: COMPONENT, actions: [{{name, energy}}, ...]}}")
        component = re.sub(r"\[[^\]]*\]", "", table["name"])
        for j, action in enumerate(table["actions"]):
            if not isinstance(action, dict) or not isinstance(action.get("name"), str) or "energy" not in action:
                raise SpecError(f"{p}: ERT.tables[{i}].actions[{j}]: expected {{name: ACTION, energy: pJ}}")
            put(f"{component}.{action['name']}", action["energy"])
    return out
