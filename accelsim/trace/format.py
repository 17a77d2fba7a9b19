"""The operator-trace format, version 1: vocabularies, op columns and the ``workload.yaml`` schema.

A workload is a directory holding ``workload.yaml`` (what was decoded, by which model, how) and an ops
file (``ops.parquet``), one row per executed operation. ``docs/trace-format.md`` is the prose version of
this module; keep the two in step and bump :data:`FORMAT_VERSION` on any incompatible change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from accelsim.validation import StrictModel

FORMAT_VERSION = 1

#: What an op does. Shapes are read per kind (see :data:`OP_COLUMNS`).
OP_KINDS = (
    "matmul",  # (m x k) activations @ (k x n) weights -> (m x n); weight names the (k x n) tensor
    "lstm_pointwise",  # LSTM cell update on m rows of n cells: 3 sigmoid, 2 tanh, 3 mul, 1 add per cell
    "nonlinear",  # func (sigmoid, tanh, exp, log, relu) on m x n elements
    "elementwise",  # func (add, mul, max, copy, scale) on m x n elements
    "softmax",  # (log-)softmax over rows: m rows of n classes
    "topk",  # select k best of n candidates in each of m rows
    "gather",  # reorder/copy m rows of n elements (beam-state reordering, prefix merging)
    "embedding",  # look up m rows of n elements from the table named by weight
)

#: Which part of the recognizer an op belongs to.
PHASES = ("encoder", "prediction", "joint", "lm_target", "lm_source", "search")

#: Precision classes: the architecture's precision policy maps each class to an execution precision.
#: ``matmul_wide`` marks matmuls that the quantization recipe keeps wider than the rest (e.g. first/last layer).
PRECISION_CLASSES = ("matmul", "matmul_wide", "nonlinear", "elementwise", "softmax")

#: Column name -> dtype of the ops table (pandas / Parquet). ``deps`` is a list of earlier op ids.
OP_COLUMNS: dict[str, str] = {
    "id": "int64",  # equals the row index: 0..count-1, in issue (stream) order
    "kind": "category",  # one of OP_KINDS
    "phase": "category",  # one of PHASES
    "pclass": "category",  # one of PRECISION_CLASSES
    "func": "category",  # nonlinear/elementwise function name, "lstm", or "" for none
    "stream": "category",  # logical stream, e.g. "encoder.l0.fwd", "lm_target"; display and core-affinity hint
    "weight": "category",  # name of the weight tensor read (a key of workload.yaml weights), or ""
    "utt": "int32",  # utterance index within the workload
    "step": "int32",  # frame index (encoder) or search step (decoder); -1 when not applicable
    "m": "int64",  # rows (batch x beam hypotheses, or frames)
    "k": "int64",  # reduction dim (matmul), k best (topk), 0 otherwise
    "n": "int64",  # columns / output features / classes / cells
    "deps": "list<int64>",  # ids of ops that must finish before this one starts (all < id)
}


class _Strict(StrictModel):
    """Strict base (accelsim.validation.StrictModel): no unknown keys, no bool/float-as-int, finite floats."""


class Provenance(_Strict):
    """Where a workload came from: the exact command that produced it, so anyone can regenerate it."""

    command: str = Field(min_length=1)
    generator: str = Field(min_length=1, description="module that wrote the trace")
    notes: str = ""


class SearchMeta(_Strict):
    algorithm: str = Field(min_length=1, description="alsd, tsd, greedy, modified_beam, ...")
    beam: int = Field(ge=1)
    fusion: Literal["none", "shallow", "dr"]
    fusion_weights: dict[str, float] = Field(default_factory=dict, description="lambda, mu, rho when fused")


class AudioMeta(_Strict):
    seconds: float = Field(gt=0, description="total audio duration of all utterances, s")
    utterances: int = Field(ge=1)
    frame_rate_hz: float = Field(gt=0, description="encoder output frames per second")


class WeightMeta(_Strict):
    shape: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    pclass: Literal["matmul", "matmul_wide", "nonlinear", "elementwise", "softmax"]

    @property
    def elements(self) -> int:
        out = 1
        for d in self.shape:
            out *= d
        return out


class OpsFileMeta(_Strict):
    file: str = Field(min_length=1)
    count: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AccuracyMeta(_Strict):
    wer_percent: float = Field(ge=0)
    cer_percent: float | None = Field(default=None, ge=0)
    test_set: str = Field(min_length=1)
    wer_by_precision: dict[Literal["fp32", "int8", "int4"], float] | None = Field(
        default=None, description="WER (%) of the same search on the same utterances decoded by the model at each "
                                  "precision (fp32: the float model; int8 / int4: integer exports); optional")
    speech: str | None = Field(default=None, description="what the test speech is (e.g. which synthesizer and voices)")

    def wer_for(self, precision_mode: str) -> tuple[float, str]:
        """(WER %, precision of the decode it was measured with) for an accelerator running ``precision_mode``:
        that precision's own decode when recorded, else the float decode (``wer_percent``, precision fp32)."""
        by = self.wer_by_precision or {}
        if precision_mode in by:
            return float(by[precision_mode]), precision_mode
        return float(by.get("fp32", self.wer_percent)), "fp32"


class WorkloadMeta(_Strict):
    """Schema of ``workload.yaml``."""

    format_version: Literal[1]
    name: str = Field(min_length=1)
    synthetic: bool = Field(description="true when generated from model dims, not recorded from a real decode")
    description: str = ""
    provenance: Provenance
    model: dict[str, Any] = Field(description="model and layer dimensions (free form, for humans and reports)")
    recipe: str | None = Field(default=None, description="quantization recipe the decode used, if any")
    search: SearchMeta
    audio: AudioMeta
    accuracy: AccuracyMeta | None = None
    weights: dict[str, WeightMeta]
    ops: OpsFileMeta
