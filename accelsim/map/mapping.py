"""A mapping: for every stream, the cores that run it and how its ops split; for every weight, where it lives.

This is what the mapping stage decides and what ``accelsim run --mapping-out`` writes (YAML, readable per
stream and per weight); :func:`accelsim.map.build.build_plan` turns it into the engine's :class:`Plan`.

- ``streams[s].cores``: the core group of stream ``s`` (its first core is the *root*). With one core every
  op of the stream runs whole there. With ``g > 1`` cores, ``split`` says how its matmuls are cut:
  ``n`` -- each core holds a column slice of the weight and computes a slice of the outputs; element-wise
  ops that follow a slice (the LSTM cell update of that slice's cells) run on the same core, and a consumer
  that needs the whole result (the next matmul) receives every slice over the ring (an all-gather);
  ``k`` -- each core holds a row slice and computes partial sums, which are sent to the root and reduced
  there (a vector add) before anyone consumes them. Ops that do not split (softmax, top-k, gathers,
  embeddings) run whole on the root.
- ``streams[s].after``: a stream that must not start (per utterance) before this one has finished: the
  schedule "one direction of a bidirectional layer after the other, each on all cores".
- ``pinned[w]``: the cores whose scratchpads hold weight ``w`` for the whole run: one core holds it whole;
  several hold one slice each (the slices of the reading stream's split, on its cores); otherwise it streams from DRAM on use (and may stay in the LRU reuse
  space). ``charge_load``: pinned weights are loaded from DRAM at the start of the run (one DMA transfer per
  slice that every first-utterance reader waits for) instead of sitting on chip at time zero for free.
- ``sub_arrays``: the compiler may run a matmul on part of a core's arrays (fewer arrays, rows or columns
  than it has) when that is faster for its shape (fill/drain skew grows with the array); see
  :mod:`accelsim.map.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from accelsim.atomic import atomic_write_text
from accelsim.errors import SpecError
from accelsim.yamlio import load_yaml

SPLITS = ("n", "k")


@dataclass(frozen=True)
class StreamMap:
    cores: tuple[int, ...]
    split: str = "n"
    after: str = ""  # stream that must finish (per utterance) before this one starts; "" = none


@dataclass(frozen=True)
class Mapping:
    """Per-stream placement and split, per-weight residency, start-up load and sub-array policy."""

    name: str
    streams: dict[str, StreamMap]
    pinned: dict[str, tuple[int, ...]] = field(default_factory=dict)  # weight -> cores holding it (or slices)
    charge_load: bool = False
    sub_arrays: bool = False
    notes: dict = field(default_factory=dict, compare=False)  # how it was chosen (not needed to replay)

    def to_dict(self, weight_bytes: dict[str, float]) -> dict:
        """Readable YAML-able form: per stream (cores, split) and per weight (pinned where, or streamed)."""
        streams = {}
        for s, sm in sorted(self.streams.items()):
            row: dict = {"cores": list(sm.cores)}
            if len(sm.cores) > 1:
                row["split"] = sm.split
            if sm.after:
                row["after"] = sm.after
            streams[s] = row
        weights = {}
        for w in sorted(weight_bytes):
            cores = self.pinned.get(w)
            where: dict = {"bytes": float(weight_bytes[w])}
            if cores:
                where["pinned_on"] = list(cores)
                if len(cores) > 1:
                    where["slice_bytes"] = float(weight_bytes[w] / len(cores))
            else:
                where["streamed"] = True
            weights[w] = where
        return {"mapping": self.name, "charge_load": self.charge_load, "sub_arrays": self.sub_arrays,
                "streams": streams, "weights": weights, **({"notes": self.notes} if self.notes else {})}


def write_mapping(path: str | Path, mapping: Mapping, weight_bytes: dict[str, float]) -> None:
    """Write ``mapping`` as readable YAML (atomically)."""
    text = yaml.safe_dump(mapping.to_dict(weight_bytes), sort_keys=False, default_flow_style=None, width=110)
    atomic_write_text(path, "# accelsim mapping (accelsim run --mapping-out); replay with --mapping FILE\n" + text)


def read_mapping(path: str | Path, cores: int) -> Mapping:
    """Load a mapping written by :func:`write_mapping`; bad content raises SpecError naming file and key."""
    path = Path(path)
    raw = load_yaml(path, SpecError)
    if not isinstance(raw, dict) or not isinstance(raw.get("streams"), dict):
        raise SpecError(f"{path}: expected a mapping with a 'streams' table (as written by --mapping-out)")
    streams = {}
    for s, row in raw["streams"].items():
        if not isinstance(row, dict) or not isinstance(row.get("cores"), list) or not row["cores"]:
            raise SpecError(f"{path}: streams.{s}.cores: expected a non-empty list of core indices")
        cs = row["cores"]
        if any(not isinstance(c, int) or not 0 <= c < cores for c in cs) or len(set(cs)) != len(cs):
            raise SpecError(f"{path}: streams.{s}.cores = {cs}: expected distinct core indices in 0..{cores - 1} "
                            f"(the architecture has {cores} cores)")
        split = row.get("split", "n")
        if split not in SPLITS:
            raise SpecError(f"{path}: streams.{s}.split = {split!r}: expected one of {', '.join(SPLITS)}")
        after = row.get("after", "")
        if after and after not in raw["streams"]:
            raise SpecError(f"{path}: streams.{s}.after = {after!r}: no such stream in the mapping")
        streams[str(s)] = StreamMap(tuple(int(c) for c in cs), split, str(after or ""))
    weights = raw.get("weights") or {}
    if not isinstance(weights, dict):
        raise SpecError(f"{path}: weights: expected a table weight -> {{pinned_on: [...]}} or {{streamed: true}}")
    pinned = {}
    for w, row in weights.items():
        if isinstance(row, dict) and "pinned_on" in row:
            cs = row["pinned_on"]
            if not isinstance(cs, list) or not cs or any(not isinstance(c, int) or not 0 <= c < cores for c in cs):
                raise SpecError(f"{path}: weights.{w}.pinned_on = {cs!r}: expected a list of core indices in "
                                f"0..{cores - 1}")
            pinned[str(w)] = tuple(int(c) for c in cs)
    for key in ("charge_load", "sub_arrays"):
        if not isinstance(raw.get(key, False), bool):
            raise SpecError(f"{path}: {key} = {raw.get(key)!r}: expected true or false")
    return Mapping(name=f"file:{path.name}", streams=streams, pinned=pinned,
                   charge_load=bool(raw.get("charge_load", False)), sub_arrays=bool(raw.get("sub_arrays", False)))
