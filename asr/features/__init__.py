"""Front end: log-mel filterbank features, deltas, frame stacking, normalization."""

from asr.features.mel import FeatureConfig, compute_features, deltas, mel_filterbank, num_frames, stack_frames

__all__ = ["FeatureConfig", "compute_features", "deltas", "mel_filterbank", "num_frames", "stack_frames"]
