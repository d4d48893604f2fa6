"""Job kinds: a name (as DDS shows it) and the ordered, idempotent steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dds.runtime import Runtime


@dataclass
class JobContext:
    """What a step sees: the runtime, the job's identity and its payload."""

    runtime: Runtime
    job_id: str
    instance_id: str
    payload: dict[str, Any]


Step = Callable[[JobContext], None]


@dataclass(frozen=True)
class JobKind:
    name: str
    steps: tuple[Step, ...]
    # Runs once when the job fails for good, to leave the resource in a named state.
    on_failure: Callable[[JobContext, str], None] | None = None


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind
