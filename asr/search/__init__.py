"""Transducer beam search batched over hypotheses, with LM fusion through a scorer protocol (docs/search.md)."""

from asr.search.alsd import alsd
from asr.search.hyp import Hyp, merge_hyps
from asr.search.mbs import modified_beam_search
from asr.search.observer import CallLog, Event
from asr.search.reference import greedy, reference_search
from asr.search.scorer import Fusion, FusionWeights, Scorer, build_fusion
from asr.search.step import SearchConfig

__all__ = ["CallLog", "Event", "Fusion", "FusionWeights", "Hyp", "Scorer", "SearchConfig", "alsd", "build_fusion",
           "greedy", "merge_hyps", "modified_beam_search", "reference_search"]
