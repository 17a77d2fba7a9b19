"""asr: a real RNN-Transducer speech recognizer with LSTM LMs, INT4 QAT, density-ratio fusion, beam search,
and a tracer that writes every executed operation in accelsim's trace format."""

__version__ = "0.1.0"
