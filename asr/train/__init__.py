"""Training: RNN-T loss, trainer with checkpoints, greedy decoding, WER/CER."""

from asr.train.config import TrainConfig
from asr.train.decode import greedy_decode
from asr.train.loss import rnnt_loss, transducer_nll
from asr.train.metrics import cer, wer

__all__ = ["TrainConfig", "cer", "greedy_decode", "rnnt_loss", "transducer_nll", "wer"]
