"""One validated settings object, read from `DDS_*` environment variables."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENGINE_NAME = "ferretdb"


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

    engine_bin: Path | None = Field(
        default=None, description="ferretdb binary; the checkout's bin/ferretdb, the environment's, or PATH's if unset"
    )
    engine_host: str = Field(
        default="127.0.0.1", description="address the instances' client ports (their gateways) listen on"
    )
    advertised_host: str | None = Field(default=None, description="node IP given to clients")
    port_range: str = Field(default="27100-27999", description="ports for gateways, engines and their debug servers")
    engine_start_timeout: float = 30.0
    fast_spawn: bool = Field(
        default=True, description="start gateways by forking a pre-imported Python (a few ms) instead of a new one"
    )

    replica_set_storage: str = Field(
        default="sqlite",
        pattern="^(sqlite|postgresql)$",
        description="storage of new ReplicaSet instances: sqlite (one node) or postgresql (a server per member)",
    )
    postgres_bin_dir: Path | None = Field(
        default=None, description="PostgreSQL's binaries for replica-set members; the newest /usr/lib/postgresql/*/bin"
    )

    volume_unit_bytes: int = Field(default=1024**3, description="bytes in one 'GB' of a volume quota")
    supervise_interval: float = 2.0
    worker_threads: int = 4
    job_max_attempts: int = 3

    dev_token: str = Field(
        default="dds-dev-token",
        description="development convenience: this X-Auth-Token acts for the demo project; empty disables it",
    )
    token_lifetime: timedelta = Field(default=timedelta(hours=24), description="validity of issued tokens")
    identity_key_file: Path | None = Field(
        default=None, description="key that encrypts AK/SK secrets; data_dir/identity.key if unset"
    )
    auth_cache_seconds: float = Field(
        default=30.0, description="how long a validated token or access key is trusted without a lookup"
    )
    identity_domain: str = Field(default="Default", description="the one Keystone domain users belong to")

    backup_store: str = Field(default="local", description="where backups live: local | s3")
    backup_local_dir: Path | None = Field(default=None, description="local store root; data_dir/backups/store")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint; AWS if unset")
    s3_bucket: str = "dds-backups"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    link_secret: str | None = Field(default=None, description="download-link HMAC key; generated if unset")
    link_ttl_seconds: int = Field(default=900, description="download links are valid 15 minutes (DDS)")
    log_format: str = Field(default="text", pattern="^(text|json)$", description="service log lines: text or json")
    access_log: bool = Field(default=True, description="one log line per HTTP request (dds.access)")
    metrics_token: str | None = Field(
        default=None, description="bearer token /metrics requires (Prometheus `authorization`); unset: open"
    )
    quota_instances: int = Field(default=100, description="instances per project (DDS quota `instance`)")
    quota_volume_gb: int = Field(default=10000, description="total volume GB of a project's instances")
    quota_backups: int = Field(default=1000, description="manual backups per project")
    incremental_backup_default: bool = Field(
        default=False, description="continuous archiving (PITR) on for new ReplicaSet instances"
    )
    backup_compress_level: int = Field(default=1, description="gzip level of the mongodump-layout export (1 = fast)")
    backup_zstd_level: int = Field(default=2, description="zstd level of physical backup archives")
    backup_zstd_threads: int = Field(default=2, description="zstd worker threads of a backup (0 = in the job thread)")
    scheduler_interval: float = Field(default=30.0, description="seconds between automated-backup checks")

    @field_validator("data_dir", "engine_bin", "identity_key_file", "backup_local_dir")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        """Relative paths (the default `var`) are taken from where the service starts, once: node
        processes run in their own directories and are handed these paths."""
        return path.absolute() if path is not None else None

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
    def backup_staging_dir(self) -> Path:
        """Scratch space for dumps and verified restores; never served."""
        return self.backups_dir / "staging"

    @property
    def backup_store_dir(self) -> Path:
        return self.backup_local_dir or self.backups_dir / "store"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def engine_path(self) -> Path:
        return self.engine_bin or default_engine_path()

    @property
    def key_file(self) -> Path:
        return self.identity_key_file or self.data_dir / "identity.key"

    @property
    def api_url(self) -> str:
        """Where clients reach this service (the catalog points here)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def client_host(self) -> str:
        return self.advertised_host or self.engine_host

    @property
    def port_bounds(self) -> tuple[int, int]:
        low, _, high = self.port_range.partition("-")
        return int(low), int(high or low)


def default_engine_path() -> Path:
    """Where the set-up puts the engine, found the same way from a checkout and from an installed
    package: the checkout's `bin/` (what `make setup` builds), the environment's `bin/` (beside
    the `dds` command), then `ferretdb` on PATH. Missing everywhere: the checkout's path (or the
    environment's, outside a checkout), so the error names where the build puts it."""
    checkout = Path(__file__).resolve().parents[3]
    candidates = [checkout / "bin" / ENGINE_NAME, Path(sys.prefix) / "bin" / ENGINE_NAME]
    on_path = shutil.which(ENGINE_NAME)
    if on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file():
            return path
    return candidates[0] if (checkout / "pyproject.toml").is_file() else candidates[1]


@lru_cache
def get_settings() -> Settings:
    return Settings()
