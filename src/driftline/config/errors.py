"""Config errors: every problem found is collected, then reported at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One mistake in one pipeline's config, located by key path and source file."""

    pipeline: str
    key: str
    message: str
    file: str = ""

    def __str__(self) -> str:
        where = f" ({self.file})" if self.file else ""
        key = f"{self.pipeline}.{self.key}" if self.key else self.pipeline
        return f"{key}: {self.message}{where}"


class ConfigError(Exception):
    """Raised with every problem of a config, never only the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.pipeline, p.file, p.key, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))
