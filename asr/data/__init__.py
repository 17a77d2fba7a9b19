"""Speech data: text domains, espeak-ng synthesis, manifests, LibriSpeech layout, batched datasets.

The shared character vocabulary lives in :mod:`asr.data.vocab`.
"""
