"""accelsim: a discrete-event simulator of low-precision speech-recognition accelerators.

Data flows one way: ``asr`` (models, decodes) -> ``accelsim.trace`` (operator traces) ->
``accelsim.sim`` (discrete-event engine over an ``accelsim.spec`` architecture) -> ``accelsim.report``.
"""

__version__ = "0.1.0"
