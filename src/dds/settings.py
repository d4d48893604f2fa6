"""One validated settings object, read from `DDS_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings; every field can be set as `DDS_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="DDS_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="metadata, instances, backups and logs")
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = Field(default=None, description="URL clients use to reach the API")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in data_dir if unset")
    region: str = "local-1"
    availability_zone: str = "local-1a"

    engine_bin: Path | None = Field(default=None, description="ferretdb binary; ./bin/ferretdb if unset")
    engine_host: str = Field(default="127.0.0.1", description="address engines listen on")
    advertised_host: str | None = Field(default=None, description="node IP given to clients")
    port_range: str = Field(default="27100-27999", description="ports for engines and their debug servers")
    engine_start_timeout: float = 30.0

    volume_unit_bytes: int = Field(default=1024**3, description="bytes in one 'GB' of a volume quota")
    supervise_interval: float = 2.0
    worker_threads: int = 4
    job_max_attempts: int = 3

    dev_token: str = Field(default="dds-dev-token", description="development token until IAM lands")

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'meta.db').resolve()}"

    @property
    def instances_dir(self) -> Path:
        return self.data_dir / "instances"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def engine_path(self) -> Path:
        if self.engine_bin:
            return self.engine_bin
        return Path(__file__).resolve().parents[2] / "bin" / "ferretdb"

    @property
    def client_host(self) -> str:
        return self.advertised_host or self.engine_host

    @property
    def port_bounds(self) -> tuple[int, int]:
        low, _, high = self.port_range.partition("-")
        return int(low), int(high or low)


@lru_cache
def get_settings() -> Settings:
    return Settings()
