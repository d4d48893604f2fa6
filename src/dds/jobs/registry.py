"""Job kinds: a name (as DDS shows it) and the ordered, idempotent steps that do the work."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dds.parts import Parts


@dataclass
class JobContext:
    """What a step sees: the parts, the job's identity and its payload (saved after each step)."""

    parts: Parts
    job_id: str
    instance_id: str
    payload: dict[str, Any]


Step = Callable[[JobContext], None]
OnFailure = Callable[[JobContext, str], None]


@dataclass(frozen=True)
class JobKind:
    name: str
    steps: tuple[Step, ...]
    # Runs once when the job fails for good, to leave the resource in a named state.
    on_failure: OnFailure | None = None


class Registry:
    """The job kinds a worker pool can run, registered explicitly by the composition root."""

    def __init__(self, kinds: Iterable[JobKind] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: JobKind) -> JobKind:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name} is registered twice")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)
