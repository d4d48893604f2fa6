"""What tenants can order: datastores, versions, flavors, storage types."""

from __future__ import annotations

from dataclasses import dataclass

DATASTORE = "DDS-Community"
VERSIONS = ("3.4", "4.0", "4.2", "4.4", "5.0")
STORAGE_TYPES = ("ULTRAHIGH",)

# Mode -> the flavor type its single group uses, and the suffix of its spec codes.
MODE_FLAVOR_TYPE = {"ReplicaSet": "replica", "Single": "single"}
_SUFFIX = {"replica": "repset", "single": "single", "readonly": "rr"}  # readonly: a replica set's read replicas
_SIZES = {"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16}
_FAMILIES = ("s6", "c6", "c3", "s2")  # Huawei Cloud general/enhanced, Open Telekom Cloud general
_RAM_RATIOS = (2, 4)

VOLUME_LIMITS_GB = {"replica": (10, 2000), "single": (10, 1000)}


@dataclass(frozen=True)
class Flavor:
    spec_code: str
    type: str
    vcpus: int
    ram_gb: int


def _build() -> dict[str, Flavor]:
    out: dict[str, Flavor] = {}
    for family in _FAMILIES:
        for size, vcpus in _SIZES.items():
            for ratio in _RAM_RATIOS:
                for ftype, suffix in _SUFFIX.items():
                    code = f"dds.mongodb.{family}.{size}.{ratio}.{suffix}"
                    out[code] = Flavor(code, ftype, vcpus, vcpus * ratio)
    return out


FLAVORS: dict[str, Flavor] = _build()
