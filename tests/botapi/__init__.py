"""A fake Telegram Bot API server that the real PTB and aiogram bots can run against."""

from tests.botapi.server import (
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USERNAME,
    DEFAULT_TOKEN,
    REGISTERED_SECRET,
    AnsweredCallback,
    BotAPIError,
    BotMessage,
    Call,
    FakeBotAPI,
    MessageVersion,
    StoredFile,
    UploadedFile,
    WebhookConfig,
    WebhookDelivery,
)

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_TOKEN",
    "REGISTERED_SECRET",
    "AnsweredCallback",
    "BotAPIError",
    "BotMessage",
    "Call",
    "FakeBotAPI",
    "MessageVersion",
    "StoredFile",
    "UploadedFile",
    "WebhookConfig",
    "WebhookDelivery",
]
