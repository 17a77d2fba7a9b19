"""RNN-T loss (Graves 2012) in plain PyTorch, vectorized over the batch and along anti-diagonals of the lattice.

The lattice has cells (t, u), t < T frames, u <= U emitted units. From (t, u) a blank moves to (t + 1, u)
and the label y_u to (t, u + 1); the final blank leaves (T - 1, U). Cells on one anti-diagonal n = t + u
depend only on diagonal n - 1, so the forward variables alpha are computed one diagonal at a time, all cells
of a diagonal and all utterances at once (T + U steps, no loop over T x U cells). The backward variables
beta give the exact gradient with respect to the blank and label log-probabilities without unrolling
autograd through the recursion:

    d(-log P)/d blank[t, u] = -exp(alpha[t, u] + blank[t, u] + beta[t + 1, u] - log P)
    d(-log P)/d label[t, u] = -exp(alpha[t, u] + label[t, u] + beta[t, u + 1] - log P)

Diagonal-major ("skewed") storage: S[b, n, u] holds cell (t = n - u, u).
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def _skew(x: torch.Tensor, n_diag: int) -> torch.Tensor:
    """(B, T, W) cell-major -> (B, n_diag, W) diagonal-major, -inf where t = n - u is outside [0, T)."""
    b, t, w = x.shape
    n = torch.arange(n_diag, device=x.device)[:, None]  # (N, 1)
    u = torch.arange(w, device=x.device)[None, :]  # (1, W)
    tt = n - u  # (N, W)
    valid = (tt >= 0) & (tt < t)
    idx = tt.clamp(0, t - 1).expand(b, -1, -1)  # (B, N, W)
    return torch.where(valid, x.gather(1, idx), torch.full_like(idx, NEG_INF, dtype=x.dtype))


def _unskew(s: torch.Tensor, t: int) -> torch.Tensor:
    """(B, N, W) diagonal-major -> (B, T, W) cell-major."""
    b, _, w = s.shape
    idx = (torch.arange(t, device=s.device)[:, None] + torch.arange(w, device=s.device)[None, :]).expand(b, -1, -1)
    return s.gather(1, idx)


def _lattice(blank: torch.Tensor, label: torch.Tensor, t_lens: torch.Tensor, u_lens: torch.Tensor):
    """Masked, skewed blank (B, N, U+1) and label (B, N, U+1) scores, N = T + U + 1."""
    b, t, u1 = blank.shape
    tt = torch.arange(t, device=blank.device)[None, :, None]  # (1, T, 1)
    uu = torch.arange(u1, device=blank.device)[None, None, :]  # (1, 1, U+1)
    in_t = tt < t_lens[:, None, None]
    blank = torch.where(in_t & (uu <= u_lens[:, None, None]), blank, NEG_INF)
    label = torch.nn.functional.pad(label, (0, 1), value=NEG_INF)  # (B, T, U+1): no label leaves u = U
    label = torch.where(in_t & (uu < u_lens[:, None, None]), label, NEG_INF)
    n_diag = t + u1
    return _skew(blank, n_diag), _skew(label, n_diag)


def _alpha(bk: torch.Tensor, lk: torch.Tensor) -> torch.Tensor:
    """Forward variables, skewed (B, N, U+1)."""
    b, n_diag, u1 = bk.shape
    rows = [torch.full((b, u1), NEG_INF, dtype=bk.dtype, device=bk.device)]
    rows[0][:, 0] = 0.0
    pad = torch.full((b, 1), NEG_INF, dtype=bk.dtype, device=bk.device)
    for n in range(1, n_diag):
        prev = rows[-1]
        via_blank = prev + bk[:, n - 1]  # from (t - 1, u)
        via_label = torch.cat([pad, (prev + lk[:, n - 1])[:, :-1]], dim=1)  # from (t, u - 1)
        rows.append(torch.logaddexp(via_blank, via_label))
    return torch.stack(rows, dim=1)


def _beta(bk: torch.Tensor, lk: torch.Tensor, t_lens: torch.Tensor, u_lens: torch.Tensor) -> torch.Tensor:
    """Backward variables, skewed (B, N + 1, U+1); beta at the virtual cell (T_b, U_b) is 0 (after the final blank)."""
    b, n_diag, u1 = bk.shape
    end_diag = t_lens + u_lens  # (B,) diagonal of the virtual end cell
    pad = torch.full((b, 1), NEG_INF, dtype=bk.dtype, device=bk.device)
    onehot_end = torch.nn.functional.one_hot(u_lens, u1).bool()  # (B, U+1)
    row = torch.full((b, u1), NEG_INF, dtype=bk.dtype, device=bk.device)
    rows = []
    for n in range(n_diag, -1, -1):
        if n < n_diag:
            via_blank = row + bk[:, n]  # to (t + 1, u)
            via_label = torch.cat([row[:, 1:], pad], dim=1) + lk[:, n]  # to (t, u + 1)
            row = torch.logaddexp(via_blank, via_label)
        row = torch.where(onehot_end & (end_diag == n)[:, None], 0.0, row)
        rows.append(row)
    return torch.stack(rows[::-1], dim=1)


class _TransducerNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, blank, label, t_lens, u_lens):
        t = blank.shape[1]
        bk, lk = _lattice(blank, label, t_lens, u_lens)
        alpha = _alpha(bk, lk)  # (B, N, U+1)
        beta = _beta(bk, lk, t_lens, u_lens)  # (B, N + 1, U+1)
        logp = beta[:, 0, 0]  # (B,)
        bnext = beta[:, 1:]  # beta of the cell one diagonal later, same u: (t + 1, u)
        bnext_u = torch.nn.functional.pad(beta[:, 1:, 1:], (0, 1), value=NEG_INF)  # (t, u + 1)
        g_blank = -torch.exp(alpha + bk + bnext - logp[:, None, None])
        g_label = -torch.exp(alpha + lk + bnext_u - logp[:, None, None])
        g_blank = torch.nan_to_num(_unskew(g_blank, t), nan=0.0)  # (B, T, U+1)
        g_label = torch.nan_to_num(_unskew(g_label, t)[:, :, :-1], nan=0.0)  # (B, T, U)
        ctx.save_for_backward(g_blank, g_label)
        return -logp

    @staticmethod
    def backward(ctx, grad_out):
        g_blank, g_label = ctx.saved_tensors
        scale = grad_out[:, None, None]
        return g_blank * scale, g_label * scale, None, None


def transducer_nll(blank: torch.Tensor, label: torch.Tensor, t_lens: torch.Tensor, u_lens: torch.Tensor) -> torch.Tensor:
    """-log P(y|x) per utterance (B,) from blank scores (B, T, U+1) and label scores (B, T, U).

    ``label[b, t, u]`` is the score of emitting y_u at (t, u). Scores need not be normalized (gradcheck uses
    raw numbers); the loss uses log-probabilities.
    """
    return _TransducerNLL.apply(blank, label, t_lens.long(), u_lens.long())


def rnnt_loss(
    logits: torch.Tensor, targets: torch.Tensor, logit_lens: torch.Tensor, target_lens: torch.Tensor, blank: int = 0
) -> torch.Tensor:
    """Per-utterance RNN-T negative log-likelihood (B,) in nats.

    logits (B, T, U+1, V) joint outputs; targets (B, U) unit ids (padding ignored); lens (B,) each.
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (B, T, U+1, V)
    blank_lp = log_probs[..., blank]  # (B, T, U+1)
    u = targets.shape[1]
    tgt = targets.clamp(min=0)[:, None, :, None].expand(-1, log_probs.shape[1], -1, -1)  # (B, T, U, 1)
    label_lp = log_probs[:, :, :u].gather(3, tgt)[..., 0]  # (B, T, U)
    return transducer_nll(blank_lp, label_lp, logit_lens, target_lens)
