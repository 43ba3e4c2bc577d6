"""Model registry: immutable versions, an atomically swapped champion pointer, rollback, history."""

from driftline.registry.store import (
    Registry,
    RegistryError,
    VersionInfo,
    fingerprint_config,
    fingerprint_files,
    sha256_file,
)

__all__ = [
    "Registry",
    "RegistryError",
    "VersionInfo",
    "fingerprint_config",
    "fingerprint_files",
    "sha256_file",
]
