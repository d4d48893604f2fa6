"""One page of rows and the total count, the shape every DDS list answers with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def page(
    s: Session, model: type[T], where: Sequence[ColumnElement[bool]], order: Any, offset: int, limit: int
) -> tuple[list[T], int]:
    total = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = list(s.scalars(select(model).where(*where).order_by(order).offset(offset).limit(limit)))
    return rows, int(total)
