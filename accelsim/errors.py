"""Error family for user-facing problems: each message names the file, the field and what was expected.

The command line turns any :class:`AccelsimError` into a one-paragraph message and exit code 2, never a
traceback. Library code raises these for bad *input*; bugs stay ordinary exceptions.
"""


class AccelsimError(Exception):
    """Base class of every error caused by bad user input (files, fields, values)."""


class SpecError(AccelsimError):
    """An architecture YAML file is invalid (unknown key, wrong type, bad unit, impossible value)."""


class TraceError(AccelsimError):
    """A workload directory or its ops file is missing, truncated, corrupt or inconsistent."""


class SweepError(AccelsimError):
    """A sweep specification or a results file is invalid or incompatible."""


class ResultError(AccelsimError):
    """A simulation or decode produced a non-finite or negative time, rate, RTF or WER from the given inputs."""
