"""Lineage: read models that join the registry, the audit trail and the prediction log.

`trace` follows one served decision back to its model version, training data, config, code, gate and drift."""
