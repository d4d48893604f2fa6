"""Engine and session factory for the metadata store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker


def _mark_changed(session: Session, _context: Any) -> None:
    # `dirty` also holds rows whose attributes were set to the value they had: not a change.
    if session.new or session.deleted or any(session.is_modified(row) for row in session.dirty):
        session.info["changed"] = True


def _mark_bulk_change(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        state.session.info["changed"] = True


def make_engine(url: str) -> Engine:
    """SQLite gets WAL and a busy timeout so API threads and workers share it."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """Owns the engine and hands out transactional sessions.

    `generation` grows with every commit that changed something, so readers can cache what
    they rendered and know when it went stale (changes made by this process only).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self.generation = 0
        event.listen(self._factory, "after_flush", _mark_changed)
        event.listen(self._factory, "do_orm_execute", _mark_bulk_change)
        event.listen(self._factory, "after_commit", self._bump)

    def _bump(self, session: Session) -> None:
        if session.info.pop("changed", False):
            self.generation += 1

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with self._factory() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        here = Path(__file__).parent / "migrations"
        cfg = Config()
        cfg.set_main_option("script_location", str(here))
        cfg.set_main_option("sqlalchemy.url", self.url)
        cfg.attributes["connection"] = None
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")  # one head per feature branch of the schema

    def dispose(self) -> None:
        self.engine.dispose()
