"""Training settings: the ``train:`` section of a recipe YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asr.errors import ConfigError
from asr.model.config import build_dataclass, read_sections


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer, schedule, batching and bookkeeping. Times in seconds, sizes in 10 ms input frames."""

    seed: int = 0
    threads: int = 2  # torch intra-op threads
    batch_frames: int = 12000  # padded input frames per batch (items x longest)
    lr: float = 0.001  # peak Adam learning rate
    warmup_steps: int = 300
    final_lr_ratio: float = 0.05  # cosine decay to lr * ratio at the end of max_epochs
    max_epochs: int = 20
    grad_clip: float = 5.0
    weight_decay: float = 0.0
    time_masks: int = 0  # SpecAugment: number of time masks per utterance
    time_mask_frames: int = 20
    freq_masks: int = 0
    freq_mask_bins: int = 10
    log_every: int = 20  # steps between progress lines
    eval_every: int = 250  # steps between dev evaluations
    dev_utts: int = 200  # dev utterances decoded at each evaluation
    ckpt_every_s: float = 300.0
    keep_ckpts: int = 2

    def __post_init__(self) -> None:
        problems = []
        for name in ("threads", "batch_frames", "max_epochs", "log_every", "eval_every", "dev_utts", "keep_ckpts"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} = {getattr(self, name)}: must be > 0")
        for name in ("lr", "grad_clip", "ckpt_every_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} = {getattr(self, name)}: must be > 0")
        if not 0 <= self.final_lr_ratio <= 1:
            problems.append(f"final_lr_ratio = {self.final_lr_ratio}: must be in [0, 1]")
        if problems:
            raise ConfigError("train: " + "; ".join(problems))

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        return build_dataclass(cls, read_sections(path).get("train"), f"{path}: train")
