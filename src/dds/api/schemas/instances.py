"""Bodies of the instance group that the SDK's models do not describe alone."""

from __future__ import annotations

from dds.wire.models import CreateInstanceRequestBody, RestorePoint


class CreateInstanceBody(CreateInstanceRequestBody):
    """`POST /instances` is both create_instance and restore_new_instance (with `restore_point`)."""

    restore_point: RestorePoint | None = None
