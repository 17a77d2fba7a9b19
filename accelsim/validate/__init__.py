"""Validation against measured hardware: measured-latency tables, per-op prediction, calibration of a GPU arch."""

from accelsim.validate.measured import MEASURED_COLUMNS, MeasuredTableError, read_measured
from accelsim.validate.predict import predict_plain, predict_seconds

__all__ = ["MEASURED_COLUMNS", "MeasuredTableError", "predict_plain", "predict_seconds", "read_measured"]
