"""What the chip IS: architecture schema, YAML loader with ``base:`` inheritance and overrides, units."""

from accelsim.spec.loader import apply_overrides, dump_arch, load_arch, load_raw, validate_raw
from accelsim.spec.schema import PRECISION_BYTES, VECTOR_FUNCS, ArchSpec, PrecisionPolicy
from accelsim.spec.units import format_bytes, parse_quantity

__all__ = [
    "PRECISION_BYTES",
    "VECTOR_FUNCS",
    "ArchSpec",
    "PrecisionPolicy",
    "apply_overrides",
    "dump_arch",
    "format_bytes",
    "load_arch",
    "load_raw",
    "parse_quantity",
    "validate_raw",
]
