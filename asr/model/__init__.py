"""RNN-Transducer model: config, encoder, predictor, joiner, save/load."""

from asr.model.config import ModelConfig
from asr.model.encoder import Encoder
from asr.model.io import load_model, save_model
from asr.model.joiner import Joiner
from asr.model.predictor import Predictor
from asr.model.transducer import Transducer, param_breakdown

__all__ = ["Encoder", "Joiner", "ModelConfig", "Predictor", "Transducer", "load_model", "param_breakdown", "save_model"]
