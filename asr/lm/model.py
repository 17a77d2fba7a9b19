"""Character LSTM language model over the shared RNN-T units (``asr.data.vocab``).

Built only from standard modules (``nn.Embedding`` -> ``nn.LSTM`` -> ``nn.Linear``) so that the quantization
entry point ``asr.quant.prepare(model, recipe)`` can swap them for quantized versions like the acoustic model's.

Id 0 (the RNN-T blank) doubles as start-of-sequence on the input side and end-of-sequence on the output side:
a sentence ``y`` is scored as ``P(y_1 | 0) ... P(y_U | y_<U) P(0 | y)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from asr.data.vocab import VOCAB_SIZE
from asr.errors import CheckpointError

#: LSTM state: (h, c), each (layers, batch, hidden).
LMState = tuple[torch.Tensor, torch.Tensor]

WEIGHTS_FILE = "lm.safetensors"
CONFIG_FILE = "lm.json"


@dataclass(frozen=True)
class LMConfig:
    """Layer sizes of a character LM (all in units / cells)."""

    vocab: int = VOCAB_SIZE
    embed: int = 64
    hidden: int = 256
    layers: int = 1

    def __post_init__(self) -> None:
        for name in ("vocab", "embed", "hidden", "layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"LMConfig.{name} = {value!r}: must be a positive integer")


class CharLSTMLM(nn.Module):
    """Embedding + LSTM + output projection; returns next-unit logits."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab, cfg.embed)
        self.lstm = nn.LSTM(cfg.embed, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.output = nn.Linear(cfg.hidden, cfg.vocab)

    def forward(self, tokens: torch.Tensor, state: LMState | None = None) -> tuple[torch.Tensor, LMState]:
        """tokens (B, U) int64 -> (logits (B, U, V), state after the last position)."""
        x = self.embedding(tokens)  # (B, U, E)
        h, state = self.lstm(x, state)  # (B, U, H)
        return self.output(h), state

    def initial_state(self, batch: int) -> LMState:
        """Zero state for ``batch`` sequences: (h, c) each (layers, batch, hidden)."""
        p = next(self.parameters())
        z = torch.zeros(self.cfg.layers, batch, self.cfg.hidden, dtype=p.dtype, device=p.device)
        return z, z.clone()

    def step(self, tokens: torch.Tensor, state: LMState) -> tuple[torch.Tensor, LMState]:
        """One position for a batch: tokens (B,) -> (log-probs of the next unit (B, V), new state)."""
        logits, state = self.forward(tokens[:, None], state)  # (B, 1, V)
        return torch.log_softmax(logits[:, 0], dim=-1), state


def sentence_logprob(model: CharLSTMLM, ids: list[int]) -> float:
    """Natural-log probability of one sentence of unit ids, end-of-sequence included."""
    x = torch.tensor([[0, *ids]])  # (1, U+1)
    y = torch.tensor([[*ids, 0]])  # (1, U+1)
    with torch.no_grad():
        logits, _ = model(x)
        lp = torch.log_softmax(logits, dim=-1).gather(-1, y[..., None])  # (1, U+1, 1)
    return float(lp.sum())


def save_lm(model: nn.Module, directory: str | Path, meta: dict | None = None) -> Path:
    """Write ``lm.safetensors`` (weights) and ``lm.json`` (config + ``meta``) atomically into ``directory``."""
    from safetensors.torch import save_file

    from accelsim.atomic import atomic_write, atomic_write_text

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS_FILE, lambda p: save_file(tensors, str(p)))
    doc = {"config": asdict(model.cfg), "meta": meta or {}}
    atomic_write_text(directory / CONFIG_FILE, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return directory


def load_lm(directory: str | Path) -> tuple[CharLSTMLM, dict]:
    """Load an LM written by :func:`save_lm`; returns (model in eval mode, meta). Never unpickles.

    An LM trained with a quantization recipe (``meta.recipe``, the recipe's mapping) comes back fake-quantized.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path, w_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not cfg_path.is_file() or not w_path.is_file():
        raise CheckpointError(
            f"{directory}: not a language-model directory (expected {CONFIG_FILE} and {WEIGHTS_FILE}; "
            "create one with `asr lm train`)"
        )
    try:
        doc = json.loads(cfg_path.read_text(encoding="utf-8"))
        cfg = LMConfig(**doc["config"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{cfg_path}: unreadable LM config ({exc})") from None
    try:
        tensors = load_file(str(w_path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{w_path}: corrupt or truncated safetensors file ({exc})") from None
    model: nn.Module = CharLSTMLM(cfg)
    recipe = doc.get("meta", {}).get("recipe")
    if recipe:  # a QAT LM: rebuild the fake-quantized modules, then load weights and learned clips
        from asr.quant.prepare import prepare
        from asr.quant.recipe import parse_recipe

        model = prepare(model, parse_recipe(recipe, f"{cfg_path}: meta.recipe"), inplace=True)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{w_path}: weights do not match the config in {cfg_path} ({first})") from None
    model.eval()
    return model, doc.get("meta", {})
