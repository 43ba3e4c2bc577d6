"""Config errors: every problem found is collected, then reported at once."""

from __future__ import annotations

from dataclasses import dataclass

from driftline.errors import UserConfigError


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


class ConfigError(UserConfigError):
    """Raised with every problem of a config, never only the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.pipeline, p.file, p.key, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [f"{len(self.problems)} problem(s) in the config; nothing was written.",
                *(f"  error: {problem}" for problem in self.problems)]


class KeyedErrors(ValueError):
    """Raised by a validator that checks many keys of one mapping, so each problem keeps its key.

    pydantic reports a model validator's error at the model's location; the loader appends
    each key to that location and reports one problem per key.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors))
