"""driftline: declare an MLOps pipeline in YAML, compile it to DVC stages, keep it alive."""

__version__ = "0.1.0"
