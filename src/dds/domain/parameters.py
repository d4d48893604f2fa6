"""Instance parameters as DDS names them: types, ranges, defaults, and whether the service honours them.

A parameter is *honoured* when setting it changes what the instance does (the gateway's
connection limit and slow log, the engine's page cache); the others are accepted and shown, as
DDS shows them, and say in their description that the engine has nothing to apply them to.
`restart_required` is true only where the engine must restart: gateway settings apply by reload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from dds.core.errors import InvalidParameterValue

NODE_TYPES = ("replica", "single")
VERSIONS = ("3.4", "4.0", "4.2", "4.4", "5.0")
DEFAULT = "default"  # DDS shows flavor-dependent defaults as the word "default"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # integer, float, boolean, string, list (DDS's type names)
    value_range: str
    default: str
    restart_required: bool
    description: str
    honoured: bool
    readonly: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def check(self, value: object) -> str:
        """The value in its stored form, or InvalidParameterValue naming the range."""
        text = str(value).strip() if value is not None else ""
        if self.readonly:
            raise InvalidParameterValue(f"The parameter {self.name} is read-only.")
        if text == DEFAULT and self.default == DEFAULT:
            return text
        bad = InvalidParameterValue(
            f"Invalid value {text!r} for parameter {self.name}: expected {self.type} in {self.value_range}."
        )
        if self.type == "boolean":
            if text not in ("true", "false"):
                raise bad
            return text
        if self.type == "list":
            if text not in self.choices:
                raise bad
            return text
        try:
            number = int(text) if self.type == "integer" else float(text)
        except ValueError:
            raise bad from None
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise bad
        return str(number)


def _honoured(text: str) -> str:
    return f"{text} Honoured by this service."


def _not_honoured(text: str) -> str:
    return f"{text} Stored and shown; not applied (the engine, FerretDB, has no such setting)."


CATALOG: tuple[Parameter, ...] = (
    Parameter(
        "net.maxIncomingConnections",
        "integer",
        "1-200000",
        DEFAULT,
        False,
        _honoured(
            "Maximum number of simultaneous client connections; the node's gateway refuses more. "
            '"default" follows the flavor\'s memory (1,000 per GB).'
        ),
        True,
        low=1,
        high=200000,
    ),
    Parameter(
        "operationProfiling.slowOpThresholdMs",
        "integer",
        "0-65536",
        "100",
        False,
        _honoured("Operations that take longer (ms) are written to the slow log; 0 logs every operation."),
        True,
        low=0,
        high=65536,
    ),
    Parameter(
        "operationProfiling.mode",
        "list",
        "off,slowOp,all",
        "slowOp",
        False,
        _honoured("off: no slow log; slowOp: operations over the threshold; all: every operation."),
        True,
        choices=("off", "slowOp", "all"),
    ),
    Parameter(
        "storage.cacheSizeMB",
        "integer",
        "1-65536",
        DEFAULT,
        True,
        _honoured(
            "Page cache of each engine connection to a database file, in MB (SQLite cache_size); "
            '"default" is SQLite\'s 2 MB. Restarts the engine.'
        ),
        True,
        low=1,
        high=65536,
    ),
    Parameter(
        "cursorTimeoutMillis",
        "integer",
        "600000-1000000",
        "600000",
        False,
        _not_honoured("Idle cursors are closed after this time (ms)."),
        False,
        low=600000,
        high=1000000,
    ),
    Parameter(
        "disableJavaScriptJIT",
        "boolean",
        "true|false",
        "true",
        True,
        _not_honoured("Whether the JavaScript JIT is disabled."),
        False,
    ),
    Parameter(
        "maxTransactionLockRequestTimeoutMillis",
        "integer",
        "0-2147483647",
        "5",
        False,
        _not_honoured("How long a transaction waits for locks (ms)."),
        False,
        low=0,
        high=2147483647,
    ),
    Parameter(
        "security.javascriptEnabled",
        "boolean",
        "true|false",
        "false",
        True,
        "Server-side JavaScript; always off (the engine runs no JavaScript).",
        False,
        readonly=True,
    ),
    Parameter(
        "enableMajorityReadConcern",
        "boolean",
        "true|false",
        "false",
        True,
        "Majority read concern; not supported, as on DDS.",
        False,
        readonly=True,
    ),
)
BY_NAME: dict[str, Parameter] = {p.name: p for p in CATALOG}


def check_values(values: Mapping[str, object] | None) -> dict[str, str]:
    """Validate every name and value first: nothing is applied when one is wrong."""
    if not values:
        raise InvalidParameterValue("parameter_values must name at least one parameter.")
    out = {}
    for name, value in values.items():
        param = BY_NAME.get(name)
        if param is None:
            raise InvalidParameterValue(f"Unknown parameter {name!r}.")
        out[name] = param.check(value)
    return out


def defaults() -> dict[str, str]:
    return {p.name: p.default for p in CATALOG}


def effective(values: Mapping[str, str] | None) -> dict[str, str]:
    """Every parameter's value: the stored ones over the defaults."""
    return {**defaults(), **(values or {})}


def node_type_of(mode: str) -> str:
    return "single" if mode == "Single" else "replica"


def default_template_id(version: str, node_type: str) -> str:
    """Stable ids for the built-in templates (DDS ids are 32 hex digits and a suffix)."""
    return hashlib.md5(f"default:{version}:{node_type}".encode(), usedforsecurity=False).hexdigest() + "pr02"


def default_template_name(version: str, node_type: str) -> str:
    return f"Default-DDS-{version}-{node_type.capitalize()}"


DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    default_template_id(v, t): (v, t) for v in VERSIONS for t in NODE_TYPES
}


# --- what the honoured values become -------------------------------------------------------


def max_connections(values: Mapping[str, str], ram_gb: int) -> int:
    value = effective(values)["net.maxIncomingConnections"]
    return max(1, ram_gb) * 1000 if value == DEFAULT else int(value)


def slow_ms(values: Mapping[str, str]) -> float | None:
    """The gateway's slow-log threshold; None: no slow log (mode off)."""
    current = effective(values)
    mode = current["operationProfiling.mode"]
    if mode == "off":
        return None
    if mode == "all":
        return 0.0
    return float(current["operationProfiling.slowOpThresholdMs"])


def cache_kib(values: Mapping[str, str]) -> int | None:
    """SQLite cache_size per connection in KiB; None: SQLite's default."""
    value = effective(values)["storage.cacheSizeMB"]
    return None if value == DEFAULT else int(value) * 1024


RESTART_PARAMETERS = frozenset(p.name for p in CATALOG if p.restart_required and p.honoured)
