"""Beam searches: beam 1 is greedy, batched equals unbatched, recombination is order-independent, bad configs."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.features import FeatureConfig
from asr.lm.model import CharLSTMLM, LMConfig
from asr.model import ModelConfig, Transducer
from asr.search.alsd import alsd
from asr.search.hyp import Hyp, merge_hyps
from asr.search.mbs import modified_beam_search
from asr.search.reference import greedy, reference_search
from asr.search.scorer import FusionWeights, build_fusion
from asr.search.step import SearchConfig

torch.set_num_threads(1)
SEARCH = {"alsd": alsd, "mbs": modified_beam_search}


def tiny_model(seed: int, blank_bias: float = 1.0, combine: str = "additive") -> Transducer:
    torch.manual_seed(seed)
    cfg = ModelConfig(features=FeatureConfig(n_mels=8), stack=2, enc_layers=1, enc_units=12, pred_embed=8,
                      pred_units=12, joint_dim=10, combine=combine, enc_dropout=0.0, pred_dropout=0.0)
    model = Transducer(cfg).eval()
    with torch.no_grad():
        model.joiner.out.weight.mul_(4.0)  # peakier distributions: real choices between units
        model.joiner.out.bias[0] += blank_bias
    return model


def tiny_lms(seed: int) -> tuple[CharLSTMLM, CharLSTMLM]:
    torch.manual_seed(seed + 1000)
    return CharLSTMLM(LMConfig(embed=8, hidden=16)).eval(), CharLSTMLM(LMConfig(embed=8, hidden=16)).eval()


def frames(model: Transducer, seed: int, t: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return model.joiner.project_enc(torch.randn(t, model.cfg.enc_dim, generator=g) * 2)  # (T, J)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 12), bias=st.floats(-1.0, 3.0))
def test_alsd_beam1_is_greedy(seed, t, bias):
    model = tiny_model(seed, bias)
    encp = frames(model, seed, t)
    g = greedy(model, encp)
    (best,) = alsd(model, encp, SearchConfig(beam=1))
    assert best.tokens == g.tokens
    assert best.score == pytest.approx(g.score, abs=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 12), bias=st.floats(-1.0, 3.0))
def test_mbs_beam1_is_one_label_per_frame_greedy(seed, t, bias):
    model = tiny_model(seed, bias)
    encp = frames(model, seed, t)
    g = greedy(model, encp, one_label_per_frame=True)
    (best,) = modified_beam_search(model, encp, SearchConfig(beam=1, algorithm="mbs"))
    assert best.tokens == g.tokens
    assert best.score == pytest.approx(g.score, abs=1e-4)


def test_beam1_matches_the_training_greedy_decoder():
    """ALSD at beam 1 gives what asr.train.greedy_decode gives when no frame hits its 5-label cap."""
    from asr.train.decode import greedy_decode

    model = tiny_model(3, blank_bias=2.5)
    feats = torch.randn(1, 40, model.cfg.features.dim, generator=torch.Generator().manual_seed(3))
    ref = greedy_decode(model, feats, torch.tensor([40]))[0]
    with torch.no_grad():
        enc, _ = model.encoder(feats, torch.tensor([40]))
        encp = model.joiner.project_enc(enc[0])
    assert list(alsd(model, encp, SearchConfig(beam=1))[0].tokens) == ref


@pytest.mark.parametrize("algorithm", ["alsd", "mbs"])
@pytest.mark.parametrize("fusion", ["none", "shallow", "dr"])
def test_batched_equals_unbatched_reference(algorithm, fusion):
    model = tiny_model(7, blank_bias=0.5)
    encp = frames(model, 7, 10)
    target, source = tiny_lms(7)
    w = {"none": FusionWeights(), "shallow": FusionWeights("shallow", 0.6, 0.0, 0.3),
         "dr": FusionWeights("dr", 0.6, 0.4, 0.3)}[fusion]
    fus = build_fusion(w, target, source)
    cfg = SearchConfig(beam=6, algorithm=algorithm)
    batched = SEARCH[algorithm](model, encp, cfg, fus)
    ref = reference_search(model, encp, cfg, fus)
    assert [h.tokens for h in batched] == [h.tokens for h in ref]
    assert [h.score for h in batched] == pytest.approx([h.score for h in ref], abs=1e-4)
    assert len(batched) <= cfg.beam


@pytest.mark.parametrize("algorithm", ["alsd", "mbs"])
def test_fused_score_is_the_density_ratio_formula(algorithm):
    """score = log P_rnnt + lambda log P_target(y) - mu log P_source(y) + rho |y| for every returned hypothesis."""
    model = tiny_model(11, blank_bias=0.0)
    encp = frames(model, 11, 8)
    target, source = tiny_lms(11)
    lam, mu, rho = 0.7, 0.3, 0.25
    fus = build_fusion(FusionWeights("dr", lam, mu, rho), target, source)
    hyps = SEARCH[algorithm](model, encp, SearchConfig(beam=5, algorithm=algorithm), fus)
    assert any(h.tokens for h in hyps)

    def lm_logprob(lm: CharLSTMLM, y: tuple[int, ...]) -> float:  # labels only, no end-of-sequence
        if not y:
            return 0.0
        with torch.no_grad():
            logits, _ = lm(torch.tensor([[0, *y[:-1]]]))
            lp = torch.log_softmax(logits, -1)[0, torch.arange(len(y)), torch.tensor(y)]
        return float(lp.sum())

    for h in hyps:
        expected = h.am_score + lam * lm_logprob(target, h.tokens) - mu * lm_logprob(source, h.tokens)
        assert h.score == pytest.approx(expected + rho * len(h.tokens), abs=1e-3)


def test_shallow_fusion_is_dr_with_mu_zero():
    model = tiny_model(5, blank_bias=0.0)
    encp = frames(model, 5, 8)
    target, source = tiny_lms(5)
    cfg = SearchConfig(beam=4)
    a = alsd(model, encp, cfg, build_fusion(FusionWeights("shallow", 0.5, 0.0, 0.2), target, source))
    b = alsd(model, encp, cfg, build_fusion(FusionWeights("dr", 0.5, 0.0, 0.2), target, source))
    assert [(h.tokens, h.score) for h in a] == [(h.tokens, h.score) for h in b]


hyp_strategy = st.builds(
    Hyp,
    tokens=st.tuples(*[st.integers(1, 3)] * 2) | st.tuples(st.integers(1, 3)) | st.just(()),
    score=st.floats(-30, 0),
    am_score=st.floats(-30, 0),
    t=st.integers(0, 2),
)


@settings(max_examples=60, deadline=None)
@given(hyps=st.lists(hyp_strategy, max_size=12), seed=st.integers(0, 1000))
def test_merging_is_order_independent_and_adds_probability(hyps, seed):
    shuffled = list(hyps)
    random.Random(seed).shuffle(shuffled)
    a, b = merge_hyps(hyps), merge_hyps(shuffled)
    assert [(h.tokens, h.t) for h in a] == [(h.tokens, h.t) for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-9)
    assert len({(h.tokens, h.t) for h in a}) == len(a)
    for h in a:
        group = [x.score for x in hyps if (x.tokens, x.t) == (h.tokens, h.t)]
        assert h.score == pytest.approx(math.log(sum(math.exp(s) for s in group)), abs=1e-9)
    assert [h.score for h in a] == sorted((h.score for h in a), reverse=True)


def test_wider_beam_never_loses_the_best_of_a_narrower_one_on_a_peaky_model():
    """Not a theorem for pruned search, but with no LM ALSD's best score should not get worse from 1 to 8."""
    model = tiny_model(2, blank_bias=1.0)
    encp = frames(model, 2, 10)
    s1 = alsd(model, encp, SearchConfig(beam=1))[0].score
    s8 = alsd(model, encp, SearchConfig(beam=8))[0].score
    assert s8 >= s1 - 1e-5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beam": 0}, r"beam = 0: must be an integer in 1\.\.64"),
        ({"beam": 65}, r"beam = 65: must be an integer in 1\.\.64"),
        ({"algorithm": "tsd"}, r"search algorithm 'tsd': expected one of alsd, mbs"),
        ({"max_label_ratio": 0}, r"max_label_ratio = 0: must be > 0"),
    ],
)
def test_bad_search_config_messages(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchConfig(**kwargs)


def test_fusion_weight_messages():
    with pytest.raises(ValueError, match=r"shallow fusion has mu = 0, got mu = 0\.3"):
        FusionWeights("shallow", 0.5, 0.3, 0.0)
    with pytest.raises(ValueError, match=r"density-ratio fusion needs a source LM"):
        build_fusion(FusionWeights("dr", 0.5, 0.3, 0.0), tiny_lms(0)[0], None)


@pytest.mark.parametrize("algorithm", ["alsd", "mbs"])
def test_beam_64_runs_and_never_exceeds_the_beam(algorithm):
    from asr.search.observer import CallLog

    model = tiny_model(9, blank_bias=0.0)
    encp = frames(model, 9, 6)
    log = CallLog()
    hyps = SEARCH[algorithm](model, encp, SearchConfig(beam=64, algorithm=algorithm), observer=log)
    assert 1 <= len(hyps) <= 64
    joints = [e.m for e in log.events if e.kind == "joint"]
    assert max(joints) <= 64 and max(joints) > 8  # the beam really fills up
    assert all(e.m <= 64 for e in log.events if e.kind == "scorers")


@pytest.mark.parametrize("algorithm", ["alsd", "mbs"])
@pytest.mark.parametrize("fusion", ["none", "shallow", "dr"])
def test_stacked_cell_cache_equals_the_per_scorer_path_bit_for_bit(algorithm, fusion, monkeypatch):
    """Float models run in the stacked LSTMCellCache; its n-best equals PrefixCache + module calls exactly."""
    import asr.search.step as step_mod
    from asr.search.cache import LSTMCellCache, PrefixCache
    from asr.search.step import StepScorer

    model = tiny_model(7, blank_bias=0.5)
    w = {"none": FusionWeights(), "shallow": FusionWeights("shallow", 0.6, 0.0, 0.3),
         "dr": FusionWeights("dr", 0.6, 0.4, 0.3)}[fusion]
    fus = build_fusion(w, *tiny_lms(7))
    cfg = SearchConfig(beam=8, algorithm=algorithm)
    encps = [frames(model, seed, 14) for seed in range(3)]
    assert isinstance(StepScorer(model, encps[0], fus).cache, LSTMCellCache)
    fast = [SEARCH[algorithm](model, e, cfg, fus) for e in encps]
    monkeypatch.setattr(step_mod, "cell_cache", lambda *a, **k: None)
    assert isinstance(StepScorer(model, encps[0], fus).cache, PrefixCache)
    slow = [SEARCH[algorithm](model, e, cfg, fus) for e in encps]
    assert any(h.tokens for hyps in fast for h in hyps)
    assert fast == slow  # tokens, scores, am scores and frames, bit for bit


def test_observed_modules_run_through_the_per_scorer_cache():
    """A module with a forward hook (a tracer, a test counting calls) is called as a module, never fused away."""
    from asr.search.cache import PrefixCache
    from asr.search.step import StepScorer

    model = tiny_model(3)
    calls = []
    model.predictor.lstm.register_forward_hook(lambda *_: calls.append(1))
    encp = frames(model, 3, 6)
    assert isinstance(StepScorer(model, encp, build_fusion(FusionWeights())).cache, PrefixCache)
    alsd(model, encp, SearchConfig(beam=4))
    assert calls


def test_cell_cache_rows_survive_growing_past_its_capacity():
    """A cache that starts with room for 2 prefixes and grows holds the same rows as one that never grows."""
    from asr.search.scorer import prediction_scorer
    from asr.search.step import cell_cache

    model = tiny_model(5)
    fus = build_fusion(FusionWeights("dr", 0.6, 0.4, 0.3), *tiny_lms(5))
    small, big = (cell_cache(prediction_scorer(model), fus, True, capacity=c) for c in (2, 1024))
    rng = random.Random(5)
    prefixes = [()]
    for _ in range(12):  # batches of children of cached prefixes, up to 6 new ones per call
        batch = list({p + (rng.randint(1, 28),) for p in rng.sample(prefixes, min(3, len(prefixes))) for _ in range(2)})
        assert small.lookup(batch) == big.lookup(batch)
        prefixes += batch
    assert small.cap >= small.size == big.size == len(set(prefixes))
    n = small.size
    for a, b in ((small.pred_rows, big.pred_rows), (small.term_rows, big.term_rows), (small.l_state, big.l_state)):
        assert torch.equal(a.narrow(-2 if a.dim() == 3 else 0, 0, n), b.narrow(-2 if b.dim() == 3 else 0, 0, n))
    assert not small.term_rows[:n, 0].any()  # blank column stays 0
