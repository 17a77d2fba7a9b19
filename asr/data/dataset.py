"""Training data: features of a manifest held in memory (cached on disk), length-bucketed batches.

Bad utterances (unparsable line, empty or out-of-vocabulary transcript, missing or unreadable audio, audio
shorter than one encoder step) are skipped, counted and kept in ``skipped`` with their messages, so a long
run never dies on one of them. The feature cache is a safetensors file keyed by a hash of the manifest
text and the feature config; it holds only tensors (no pickle).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from accelsim.atomic import atomic_write
from asr.data.manifest import SAMPLE_RATE, read_audio, read_manifest
from asr.data.vocab import encode
from asr.errors import DataError
from asr.features import FeatureConfig, compute_features

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # feats, lens, tokens, token_lens


class SpeechDataset:
    """Utterances of one manifest: item i is (feats (T, F) float32, tokens (U,) long)."""

    def __init__(
        self,
        manifest: str | Path,
        features: FeatureConfig,
        cache_dir: str | Path | None = None,
        limit: int | None = None,
        min_frames: int = 1,
    ) -> None:
        self.manifest = Path(manifest)
        self.skipped: list[str] = []
        utts = read_manifest(self.manifest, problems=self.skipped)[:limit]
        self.texts: list[str] = []
        key = hashlib.sha256((self.manifest.read_text() + json.dumps(dataclasses.asdict(features)) + str(limit)).encode())
        cache = Path(cache_dir) / f"{self.manifest.stem}-{key.hexdigest()[:16]}.safetensors" if cache_dir else None
        if cache is not None and self._load_cache(cache):
            return
        feats, self.texts = [], []
        for u in utts:
            try:
                wave = read_audio(u.audio)
                f = compute_features(torch.from_numpy(wave.copy()), SAMPLE_RATE, features)
            except DataError as exc:
                self.skipped.append(f"{self.manifest}: {exc}")
                continue
            if f.shape[0] < min_frames:
                self.skipped.append(f"{self.manifest}: {u.audio}: {f.shape[0]} frames, fewer than {min_frames}")
                continue
            feats.append(f.half())
            self.texts.append(u.text)
        self.feats = feats
        self.tokens = [torch.tensor(encode(t), dtype=torch.long) for t in self.texts]
        if cache is not None:
            self._save_cache(cache)

    def _save_cache(self, path: Path) -> None:
        lens = torch.tensor([f.shape[0] for f in self.feats], dtype=torch.long)
        tensors = {"feats": torch.cat(self.feats) if self.feats else torch.zeros(0, 1).half(), "lens": lens}
        meta = {"texts": json.dumps(self.texts), "skipped": json.dumps(self.skipped)}
        atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))

    def _load_cache(self, path: Path) -> bool:
        if not path.is_file():
            return False
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), "pt") as fh:
                meta = fh.metadata()
        except (SafetensorError, OSError, ValueError):
            return False  # a corrupt cache is rebuilt
        self.feats = list(torch.split(tensors["feats"], tensors["lens"].tolist()))
        self.texts = json.loads(meta["texts"])
        self.skipped = json.loads(meta["skipped"])
        self.tokens = [torch.tensor(encode(t), dtype=torch.long) for t in self.texts]
        return True

    def __len__(self) -> int:
        return len(self.feats)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.feats[i].float(), self.tokens[i]

    def num_frames(self) -> np.ndarray:
        return np.array([f.shape[0] for f in self.feats])

    def batches(self, batch_frames: int, seed: int = 0, epoch: int = 0, shuffle: bool = True) -> list[list[int]]:
        """Index lists whose padded size (items x longest) stays under ``batch_frames`` input frames.

        Utterances are sorted by length inside random pools of ~100 batches (less padding), then the
        batches are shuffled; all of it seeded by (seed, epoch). Without shuffle: sorted by length.
        """
        lens = self.num_frames()
        order = np.argsort(lens, kind="stable")
        if shuffle:
            rng = np.random.default_rng([seed, epoch])
            perm = rng.permutation(len(lens))
            pool = max(1, 100 * batch_frames // max(1, int(lens.mean() if len(lens) else 1)))
            order = np.concatenate([p[np.argsort(lens[p], kind="stable")] for p in np.array_split(perm, max(1, len(perm) // pool))]) if len(perm) else perm
        out, cur, longest = [], [], 0
        for i in order:
            longest_new = max(longest, lens[i])
            if cur and longest_new * (len(cur) + 1) > batch_frames:
                out.append(cur)
                cur, longest_new = [], lens[i]
            cur.append(int(i))
            longest = longest_new
        if cur:
            out.append(cur)
        if shuffle:
            rng.shuffle(out)
        return out

    def collate(self, indices: list[int]) -> Batch:
        """Padded batch: feats (B, T, F), lens (B,), tokens (B, U) padded with 0, token_lens (B,)."""
        items = [self[i] for i in indices]
        lens = torch.tensor([f.shape[0] for f, _ in items])
        tlens = torch.tensor([t.shape[0] for _, t in items])
        feats = torch.nn.utils.rnn.pad_sequence([f for f, _ in items], batch_first=True)  # (B, T, F)
        tokens = torch.nn.utils.rnn.pad_sequence([t for _, t in items], batch_first=True)  # (B, U)
        return feats, lens, tokens, tlens
