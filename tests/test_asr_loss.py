"""RNN-T loss: equals brute-force alignment enumeration, passes gradcheck, ignores padding."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.train.loss import rnnt_loss, transducer_nll

torch.set_num_threads(1)


def brute_force_nll(blank: torch.Tensor, label: torch.Tensor, t_len: int, u_len: int) -> torch.Tensor:
    """-log sum over every alignment (orderings of T-1 blanks and U labels, then the final blank)."""
    scores = []
    for label_pos in itertools.combinations(range(t_len - 1 + u_len), u_len):
        t = u = 0
        s = blank.new_zeros(())
        for k in range(t_len - 1 + u_len):
            if k in label_pos:
                s = s + label[t, u]
                u += 1
            else:
                s = s + blank[t, u]
                t += 1
        scores.append(s + blank[t_len - 1, u_len])
    return -torch.logsumexp(torch.stack(scores), 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_matches_brute_force_enumeration(batch, t_max, u_max, seed):
    g = torch.Generator().manual_seed(seed)
    blank = torch.randn(batch, t_max, u_max + 1, generator=g, dtype=torch.double)
    label = torch.randn(batch, t_max, u_max, generator=g, dtype=torch.double)
    t_lens = torch.randint(1, t_max + 1, (batch,), generator=g)
    u_lens = torch.randint(0, u_max + 1, (batch,), generator=g)
    got = transducer_nll(blank, label, t_lens, u_lens)
    want = torch.stack([brute_force_nll(blank[b], label[b], int(t_lens[b]), int(u_lens[b])) for b in range(batch)])
    torch.testing.assert_close(got, want)


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    blank = torch.randn(3, 5, 4, generator=g, dtype=torch.double, requires_grad=True)
    label = torch.randn(3, 5, 3, generator=g, dtype=torch.double, requires_grad=True)
    t_lens, u_lens = torch.tensor([5, 3, 1]), torch.tensor([3, 1, 2])
    assert torch.autograd.gradcheck(lambda b, lab: transducer_nll(b, lab, t_lens, u_lens), (blank, label))


def test_logit_loss_is_brute_force_over_log_softmax_and_gradcheck():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 3, 5, generator=g, dtype=torch.double, requires_grad=True)
    targets = torch.tensor([[1, 4], [2, 0]])
    t_lens, u_lens = torch.tensor([3, 2]), torch.tensor([2, 1])
    got = rnnt_loss(logits, targets, t_lens, u_lens)
    lp = torch.log_softmax(logits, -1)
    for b in range(2):
        blank = lp[b, :, :, 0]
        label = lp[b, :, :2].gather(2, targets[b][None, :, None].expand(3, -1, -1))[..., 0]
        torch.testing.assert_close(got[b].double(), brute_force_nll(blank, label, int(t_lens[b]), int(u_lens[b])).float().double(), rtol=1e-5, atol=1e-5)
    got.sum().backward()
    # padding cells (t >= T_b or u > U_b) get no gradient
    assert logits.grad[1, 2].abs().max() == 0
    assert logits.grad[1, :, 2].abs().max() == 0


def test_batched_equals_single_with_padding():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 6, 5, 7, generator=g)
    targets = torch.randint(1, 7, (2, 4), generator=g)
    t_lens, u_lens = torch.tensor([6, 4]), torch.tensor([4, 2])
    batched = rnnt_loss(logits, targets, t_lens, u_lens)
    single = rnnt_loss(logits[1:, :4, :3], targets[1:, :2], t_lens[1:], u_lens[1:])
    torch.testing.assert_close(batched[1:], single)


def test_probabilities_of_all_labelings_sum_to_one():
    """With T = 2 frames and V = 2 (blank, 'a'), sum P(y) over y = a^0..a^k approaches 1 as k grows."""
    g = torch.Generator().manual_seed(3)
    k = 12
    logits = torch.randn(1, 2, k + 1, 2, generator=g, dtype=torch.double)
    total = sum(
        torch.exp(-rnnt_loss(logits[:, :, : u + 1], torch.ones(1, u, dtype=torch.long), torch.tensor([2]), torch.tensor([u]))).item()
        for u in range(k + 1)
    )
    assert total == pytest.approx(1.0, abs=1e-3)
