"""The service's settings: one typed object, read from `GOVSVC_*` environment variables.

Every setting has a safe default for the embedded mode (SQLite and a signing key in
`./.govsvc/`, the policies in `./policies/`). `load_settings()` validates them at
start-up and turns a bad value into a `SettingsError` that names the variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from govsvc.errors import GovsvcError

DEFAULT_DATA_DIR = Path(".govsvc")
DEFAULT_POLICIES_DIR = Path("policies")
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a request with 50 attributes fits easily
DEFAULT_ORIGIN = "govsvc.local/ledger"
DEFAULT_PAGE_SIZE = 50  # decisions per page when the client does not say
DEFAULT_POOL_SIZE = 10  # database connections per process (PostgreSQL)


class SettingsError(GovsvcError):
    """A `GOVSVC_*` variable holds a value govsvc cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVSVC_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    # Empty means SQLite in data_dir; see `resolved_database_url`.
    database_url: str = ""
    policies_dir: Path = DEFAULT_POLICIES_DIR
    # Empty means data_dir/signing.key, created with mode 0600 on first start.
    signing_key: Path | None = None
    # The checkpoint origin line and the signed-note key name (C2SP tlog-checkpoint).
    log_origin: str = DEFAULT_ORIGIN
    key_name: str = ""  # empty means the origin
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    public_ledger: bool = False  # serve the ledger routes without a token
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=1000)
    pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1)
    # FastAPI's own OpenTelemetry spans, metrics and logs, for a deployment that
    # configures OpenTelemetry providers. Off by default: govsvc has its own logs and
    # Prometheus metrics, and FastAPI looks up the providers on every request.
    opentelemetry: bool = False
    # Anchors for `govsvc ledger anchor`: a git repository (pushed to the remote when
    # one is named) and an RFC 3161 time-stamp authority with its CA certificate.
    anchor_git: Path | None = None
    anchor_git_remote: str | None = None
    anchor_tsa_url: str | None = None
    anchor_tsa_ca: Path | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'govsvc.db'}"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key or self.data_dir / "signing.key"

    @property
    def signer_name(self) -> str:
        return self.key_name or self.log_origin


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; a bad variable stops start-up by name."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"GOVSVC_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"bad setting: {problems}") from exc
