"""Settings from the environment (and a ``.env`` file): the table in README's "Settings" is the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path("data")
DEFAULT_DATABASE_URL = f"sqlite:///{DATA_DIR / 'investbot.sqlite3'}"
TELEGRAM_API_SERVER = "https://api.telegram.org"
DINGTALK_API_SERVER = "https://api.dingtalk.com"
DINGTALK_OAPI_SERVER = "https://oapi.dingtalk.com"
# DingTalk's public "markdown with buttons" card template, the one its Stream SDK uses.
DINGTALK_CARD_TEMPLATE = "1366a1eb-bc54-4859-ac88-517c56a9acb1.schema"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    bot_framework: Literal["ptb", "aiogram"] = "ptb"
    bot_api_server: str = TELEGRAM_API_SERVER
    bot_platform: Literal["telegram", "dingtalk"] = "telegram"
    # DingTalk: the internal enterprise app's credentials (its robot's code is the client id).
    dingtalk_client_id: str | None = None
    dingtalk_client_secret: SecretStr | None = None
    dingtalk_api_server: str = DINGTALK_API_SERVER
    # Where the Stream connection is opened; DingTalk's OpenAPI server unless told otherwise.
    dingtalk_stream_server: str | None = None
    # The older OpenAPI host that still serves media uploads.
    dingtalk_oapi_server: str = DINGTALK_OAPI_SERVER
    dingtalk_card_template: str = DINGTALK_CARD_TEMPLATE
    database_url: str = DEFAULT_DATABASE_URL
    bot_admin_ids: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    timezone: str = "Asia/Shanghai"
    default_locale: Literal["zh", "en"] = "zh"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8080
    # The dashboard (Mini App): its public HTTPS address, and where its server listens.
    web_url: str | None = None
    web_listen: str = "0.0.0.0"
    web_port: int = 8081
    log_json: bool = False
    log_level: str = "INFO"
    invite_ttl_hours: int = 72
    # How often a process without the scheduler lock tries to take it (after its holder died).
    scheduler_retry_seconds: float = 15.0
    # Where `investbot backup` writes when given no path.
    backup_dir: Path = Path("backups")

    @field_validator("bot_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(";", ",").split(",") if part.strip())
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator(
        "bot_token",
        "webhook_secret",
        "webhook_url",
        "web_url",
        "dingtalk_client_id",
        "dingtalk_client_secret",
        "dingtalk_stream_server",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("web_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("WEB_URL must be an http(s) address (Telegram opens only https Mini Apps)")
        return value.rstrip("/")

    @field_validator("bot_api_server", "dingtalk_api_server", "dingtalk_stream_server", "dingtalk_oapi_server")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value is not None else None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def dingtalk_stream_root(self) -> str:
        return self.dingtalk_stream_server or self.dingtalk_api_server

    def dingtalk_credentials(self) -> tuple[str, str]:
        if self.dingtalk_client_id is None or self.dingtalk_client_secret is None:
            raise RuntimeError("DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET must both be set")
        return self.dingtalk_client_id, self.dingtalk_client_secret.get_secret_value()

    def token(self) -> str:
        if self.bot_token is None:
            raise RuntimeError("BOT_TOKEN is not set")
        return self.bot_token.get_secret_value()
