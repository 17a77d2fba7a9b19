"""Character LSTM language models over the RNN-T's units: model, save/load (safetensors), training, perplexity."""

from asr.lm.model import CharLSTMLM, LMConfig, load_lm, save_lm, sentence_logprob

__all__ = ["CharLSTMLM", "LMConfig", "load_lm", "save_lm", "sentence_logprob"]
