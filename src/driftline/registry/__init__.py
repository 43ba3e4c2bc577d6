"""Model registry: immutable versions, an atomically swapped champion pointer, rollback, history."""

from driftline.registry.store import Baseline, EventListener, Registry, RegistryError, VersionInfo, fingerprint_config

__all__ = ["Baseline", "EventListener", "Registry", "RegistryError", "VersionInfo", "fingerprint_config"]
