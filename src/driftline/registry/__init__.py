"""Model registry: immutable versions, an atomically swapped champion pointer, rollback, history."""

from driftline.registry.store import EventListener, Registry, RegistryError, VersionInfo, fingerprint_config

__all__ = ["EventListener", "Registry", "RegistryError", "VersionInfo", "fingerprint_config"]
