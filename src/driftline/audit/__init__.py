"""The audit trail: an append-only, hash-chained log of everything that shaped a decision."""
