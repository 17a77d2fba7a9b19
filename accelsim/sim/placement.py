"""Moved to :mod:`accelsim.map.naive` (the ``naive`` mapping); kept as an import path."""

from accelsim.map.build import weight_precision
from accelsim.map.naive import Residency, choose_residency, place_streams

__all__ = ["Residency", "choose_residency", "place_streams", "weight_precision"]
