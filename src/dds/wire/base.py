"""The base of every wire model: DDS field names, lenient where clients differ."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    """Unknown fields are kept; numbers sent where the SDK declares a string are taken as strings
    (clients of the two clouds send `port`, `size`, `num` either way)."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, populate_by_name=True)
