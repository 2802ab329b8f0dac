"""DingTalk (and the government editions built on it, 政务钉钉): the same conversations, a third door.

In: DingTalk's Stream mode through its SDK (``dingtalk-stream``): the bot opens an outbound
websocket, so it needs no public address inside a government network. Robot messages (text,
picture, file) and interactive-card callbacks become :class:`~bot.core.Incoming` text,
photos, documents and presses. A message is acknowledged only after it was handled (its
replies committed to the delivery queue), so a crash makes DingTalk deliver it again and the
router's update ids drop what was already done.

Out: DingTalk's OpenAPI, with the app's access token cached and renewed before it expires.
A reply with buttons is an interactive card whose buttons call back through the stream; what
the card shows is kept in the database (``platform_cards``), so a press after a restart or on
another process still edits it. A plain reply is a robot text message, a long one in parts;
files and chart images are uploaded as media and sent as file and image messages, their
caption after them. The parts are the queue's to send (``PartedTransport``), so a retry
resumes at the part that failed. Every failure is read into the delivery queue's classes
(:func:`classify`), so the queue paces and retries DingTalk as it does Telegram.

People: a staff id (a string) gets a stable internal chat id (``services.platforms``), so
members, invitations (``/start CODE`` typed as text) and the queue stay as they are. Where
DingTalk cannot carry something (a shared location, a reply keyboard), the reply says so
and the flow takes the answer in text, as the console does: coordinates typed at a step that
asks for a location (read from the stored conversation, not from memory) are that location.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus
from weakref import WeakValueDictionary

import aiohttp
import dingtalk_stream
import websockets
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, ChatbotMessage, Credential
from sqlmodel import select

from bot.app import App
from bot.bootstrap import build
from bot.core import FileRef, FileReply, Incoming, Keyboard, Kind, Location, Notice, Outgoing, Reply
from bot.core.config import Settings
from bot.core.db import Database
from bot.core.i18n import person_locale, translate
from bot.delivery import DINGTALK, ChatUnreachable, DeliveryError, Rejected, RetryAfter
from bot.leadership import SchedulerLeadership, scheduler_leadership
from bot.router import Router
from bot.runner import SHUTDOWN_GRACE, run_until_stopped, wind_down
from bot.telegram import TelegramBridge, TelegramTransport, parse_command
from models import User
from services import platforms

log = logging.getLogger(__name__)

PLATFORM = platforms.DINGTALK
CARD_TOPIC = dingtalk_stream.Card_Callback_Router_Topic
# A token is renewed this long before DingTalk says it expires.
TOKEN_MARGIN = 300.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_TEXT = 5000  # characters DingTalk shows in one robot text message
CARD_KEPT_SECONDS = 30 * 86400.0
CARDS_PRUNED_EVERY = 500
_OUT_TRACK = "investbot."
# DingTalk's answer codes that mean "too many calls" (OpenAPI and the older oapi host).
_THROTTLED = ("throttl", "qpslimit", "flowcontrol", "ratelimit")
_THROTTLED_ERRCODES = frozenset({90002, 90005, 90006, 90018, 90019})
_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # the older host's "bad or expired token"
_NO_SUCH_STAFF = ("staffid", "userid", "user.notexist", "usernotexist")
_COORDINATES = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*[,，\s]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def classify(status: int, body: Mapping[str, Any], retry_after: float | None = None) -> DeliveryError:
    """One reading of a DingTalk error for the delivery queue: wait, give up, or retry."""
    code = str(body.get("code") or body.get("errcode") or "")
    message = str(body.get("message") or body.get("errmsg") or "")[:300]
    lowered = code.lower().replace("_", "").replace(".", "")
    described = f"{status} {code}: {message}".strip()
    errcode = body.get("errcode")
    if errcode in _TOKEN_ERRCODES:
        # The older host answers 200 with an error code: read it as the newer one's 401.
        return DeliveryError(f"401 {described}")
    if status == 429 or any(word in lowered for word in _THROTTLED) or errcode in _THROTTLED_ERRCODES:
        return RetryAfter(retry_after if retry_after is not None else 1.0)
    if any(word in lowered for word in _NO_SUCH_STAFF):
        return ChatUnreachable(described)
    if status >= 500 or status in (401, 408):
        return DeliveryError(described)
    if status >= 400 or (isinstance(errcode, int) and errcode != 0):
        return Rejected(described)
    return DeliveryError(described)


def update_id(message_id: str) -> int:
    """DingTalk's message ids are strings; the router dedupes on integers."""
    return int.from_bytes(hashlib.blake2b(message_id.encode(), digest_size=8).digest(), "big") >> 2


def out_track_id(message_id: int) -> str:
    return f"{_OUT_TRACK}{message_id}"


def message_id_of(track: str) -> int | None:
    tail = track.removeprefix(_OUT_TRACK)
    return int(tail) if track.startswith(_OUT_TRACK) and tail.isdigit() and len(tail) < 19 else None


def coordinates(text: str) -> Location | None:
    """``38.93,100.45`` typed where a location was asked for; ``None`` for anything else."""
    found = _COORDINATES.match(text)
    if found is None:
        return None
    lat, lon = float(found.group(1)), float(found.group(2))
    return Location(lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


@dataclass(frozen=True)
class Card:
    """What a sent card showed, so a press on it can leave the choice visible."""

    chat_id: int
    text: str
    labels: Mapping[str, str]


class OpenAPI:
    """DingTalk's OpenAPI as the bot uses it; errors arrive as :class:`DeliveryError`.

    Neither the app secret nor the access token ever appears in an error or a log line: the
    HTTP library's own errors (which name the URL, and the older host takes the token in its
    query) are reduced to their kind.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client_id, self._secret = settings.dingtalk_credentials()
        self.root = settings.dingtalk_api_server
        self.oapi = settings.dingtalk_oapi_server
        self.card_template = settings.dingtalk_card_template
        self.clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    @property
    def robot_code(self) -> str:
        # An internal enterprise app's robot is addressed by the app's own client id.
        return self.client_id

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self.clock() < self._token[1]:
                return self._token[0]
            body = await self._request(
                "POST",
                f"{self.root}/v1.0/oauth2/accessToken",
                json={"appKey": self.client_id, "appSecret": self._secret},
            )
            token, expires_in = body.get("accessToken"), body.get("expireIn")
            if not isinstance(token, str) or not isinstance(expires_in, int | float):
                raise DeliveryError("DingTalk gave no access token")
            self._token = (token, self.clock() + max(float(expires_in) - TOKEN_MARGIN, 30.0))
            return token

    def forget_token(self) -> None:
        self._token = None

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.http().request(method, url, **kwargs) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"DingTalk unreachable ({type(exc).__name__})") from None
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        errcode = body.get("errcode")
        if status >= 400 or (isinstance(errcode, int) and errcode != 0):
            wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
            raise classify(status, body, wait)
        return body

    async def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One OpenAPI call with the app's token (in its header)."""

        async def once(token: str) -> dict[str, Any]:
            return await self._request(
                method, f"{self.root}{path}", json=body, headers={"x-acs-dingtalk-access-token": token}
            )

        return await self._with_token(once)

    async def _with_token(self, once: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """Call with the cached token; one DingTalk no longer takes (revoked early) is renewed once."""
        try:
            return await once(await self.token())
        except DeliveryError as exc:
            if not str(exc).startswith("401"):
                raise
        self.forget_token()
        return await once(await self.token())

    async def oapi_call(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call to the older host, which takes the token in its query."""

        async def once(token: str) -> dict[str, Any]:
            # A form is spent by one request: build it anew for a second try.
            fresh = {k: (v() if callable(v) else v) for k, v in kwargs.items()}
            return await self._request("POST", f"{self.oapi}{path}?access_token={quote_plus(token)}", **fresh)

        return await self._with_token(once)

    async def send_robot(self, staff_id: str, msg_key: str, param: Mapping[str, Any]) -> None:
        answer = await self.call(
            "POST",
            "/v1.0/robot/oToMessages/batchSend",
            {
                "robotCode": self.robot_code,
                "userIds": [staff_id],
                "msgKey": msg_key,
                "msgParam": json.dumps(param, ensure_ascii=False),
            },
        )
        # The call succeeds as a whole and names the people it could not reach.
        if staff_id in (answer.get("flowControlledStaffIdList") or []):
            raise RetryAfter(1.0)
        if staff_id in (answer.get("invalidStaffIdList") or []):
            raise ChatUnreachable(f"staff id not reachable by the robot: {staff_id}")

    def _card_data(self, text: str, keyboard: Keyboard | None) -> dict[str, Any]:
        buttons: list[dict[str, Any]] = []
        for index, button in enumerate(keyboard.buttons() if keyboard else []):
            if button.url:
                buttons.append({"text": button.label, "color": "blue", "id": f"b{index}", "url": button.url})
            elif button.data:
                buttons.append(
                    {
                        "text": button.label,
                        "color": "blue",
                        "id": f"b{index}",
                        "request": True,
                        # Comes back in the callback's private data: the press's callback data.
                        "params": {"data": button.data},
                    }
                )
        return {"markdown": text, "sys_full_json_obj": json.dumps({"msgButtons": buttons}, ensure_ascii=False)}

    async def send_card(self, staff_id: str, track: str, text: str, keyboard: Keyboard | None) -> None:
        await self.call(
            "POST",
            "/v1.0/card/instances/createAndDeliver",
            {
                "cardTemplateId": self.card_template,
                "outTrackId": track,
                "callbackType": "STREAM",
                "cardData": {"cardParamMap": self._card_data(text, keyboard)},
                "openSpaceId": f"dtv1.card//IM_ROBOT.{staff_id}",
                "imRobotOpenSpaceModel": {"supportForward": False},
                "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": self.robot_code},
            },
        )

    async def update_card(self, track: str, text: str, keyboard: Keyboard | None) -> None:
        await self.call(
            "PUT",
            "/v1.0/card/instances",
            {"outTrackId": track, "cardData": {"cardParamMap": self._card_data(text, keyboard)}},
        )

    async def upload(self, filename: str, content: bytes, *, image: bool) -> str:
        """Upload a file as media (the older host still serves it); its media id sends it."""

        def form() -> aiohttp.FormData:
            # The file's own name, as a browser sends it (DingTalk shows it; percent-escapes would too).
            data = aiohttp.FormData(quote_fields=False)
            data.add_field("type", "image" if image else "file")
            data.add_field(
                "media", content, filename=filename, content_type="image/png" if image else "application/octet-stream"
            )
            return data

        body = await self.oapi_call("/media/upload", data=form)
        media_id = body.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise DeliveryError("DingTalk kept no media id for the upload")
        return media_id

    async def departments(self, staff_id: str) -> list[str]:
        """The departments a person belongs to (the older host's user detail call)."""
        body = await self.oapi_call("/topapi/v2/user/get", json={"userid": staff_id})
        result = body.get("result")
        found = result.get("dept_id_list") if isinstance(result, dict) else None
        return [str(d) for d in found if isinstance(d, int | str)] if isinstance(found, list) else []

    async def download(self, download_code: str) -> bytes:
        """A file a person sent the robot, through the robot message file download API."""
        answer = await self.call(
            "POST",
            "/v1.0/robot/messageFiles/download",
            {"downloadCode": download_code, "robotCode": self.robot_code},
        )
        url = answer.get("downloadUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise Rejected("DingTalk gave no download address")
        try:
            async with self.http().get(url) as response:
                if response.status != 200:
                    raise classify(response.status, {})
                if (response.content_length or 0) > MAX_DOWNLOAD:
                    raise Rejected("file too large")
                content = await response.content.read(MAX_DOWNLOAD + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"DingTalk unreachable ({type(exc).__name__})") from None
        if len(content) > MAX_DOWNLOAD:
            raise Rejected("file too large")
        return content


class DingTalkPort:
    """The calls the shared bridge and transport make (``bot.telegram.BotPort``), on DingTalk."""

    def __init__(self, api: OpenAPI, db: Database, *, default_locale: str) -> None:
        self.api = api
        self.db = db
        self.default_locale = default_locale
        self._staff: dict[int, str] = {}
        self._ids = itertools.count(secrets.randbelow(1000))
        self._kept = 0

    def remember(self, chat_id: int, staff_id: str) -> None:
        self._staff[chat_id] = staff_id

    async def staff_id(self, chat_id: int) -> str:
        staff = self._staff.get(chat_id)
        if staff is None:
            staff = await platforms.external_id_for(self.db, PLATFORM, chat_id)
            if staff is None:
                raise ChatUnreachable(f"chat {chat_id} is no DingTalk person")
            self._staff[chat_id] = staff
        return staff

    async def card(self, message_id: int | None) -> Card | None:
        """What a card shows now; kept in the database, so a press after a restart still edits it."""
        if message_id is None:
            return None
        found = await platforms.card(self.db, PLATFORM, message_id)
        if found is None:
            return None
        labels = {str(k): str(v) for k, v in found.labels.items()} if isinstance(found.labels, dict) else {}
        return Card(found.chat_id, found.text, labels)

    def _new_message_id(self) -> int:
        # Milliseconds, then a counter that starts anywhere: unique across restarts and, all but
        # surely, across processes; ids grow with time, so old cards are pruned by id alone.
        return int(time.time() * 1000) * 1000 + next(self._ids) % 1000

    async def _keep(self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None) -> None:
        labels = {b.data: b.label for b in keyboard.buttons() if b.data} if keyboard else {}
        await platforms.keep_card(self.db, PLATFORM, message_id, chat_id=chat_id, text=text, labels=labels)
        self._kept += 1
        if self._kept % CARDS_PRUNED_EVERY == 0:
            # A card older than this is not worth an edit: its press gets a new message.
            oldest = int((time.time() - CARD_KEPT_SECONDS) * 1000) * 1000
            await platforms.forget_cards(self.db, PLATFORM, before=oldest)

    async def _locale(self, chat_id: int) -> str:
        async with self.db.session() as session:
            user = (await session.exec(select(User).where(User.telegram_id == chat_id))).first()
        return person_locale(user.locale if user else None, user.language_code if user else None, self.default_locale)

    async def send(self, chat_id: int, item: Reply | FileReply) -> None:
        staff = await self.staff_id(chat_id)
        if isinstance(item, FileReply):
            await self._send_file(staff, item)
            return
        text, keyboard = item.text, item.keyboard
        if keyboard is not None and keyboard.asks_location:
            # No location button on DingTalk: say how to answer in text, keep the other buttons.
            text = f"{text}\n{translate(await self._locale(chat_id), 'dingtalk.location_hint')}"
            kept = tuple(row for row in (tuple(b for b in r if not b.request_location) for r in keyboard.rows) if row)
            keyboard = Keyboard(kept) if kept else None
        if not _card(keyboard):
            for part in _split(text):
                await self.api.send_robot(staff, "sampleText", {"content": part})
            return
        message_id = self._new_message_id()
        # Kept before it is sent: a press can come back before the send call has returned.
        await self._keep(chat_id, message_id, text, keyboard)
        await self.api.send_card(staff, out_track_id(message_id), text, keyboard)

    async def _send_file(self, staff: str, item: FileReply) -> None:
        media_id = await self.api.upload(item.filename, item.content, image=item.photo)
        if item.photo:
            await self.api.send_robot(staff, "sampleImageMsg", {"photoURL": media_id})
        else:
            kind = item.filename.rsplit(".", 1)[-1].lower() if "." in item.filename else "file"
            await self.api.send_robot(
                staff, "sampleFile", {"mediaId": media_id, "fileName": item.filename, "fileType": kind}
            )
        if item.caption:
            # A file message has no caption on DingTalk: the words follow it.
            await self.api.send_robot(staff, "sampleText", {"content": item.caption})

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        card = await self.card(message_id)
        if card is None or card.chat_id != chat_id:
            # Only this person's own cards change; a plain message, a card pruned long ago
            # or one that is not theirs gets the text as a new message instead.
            raise Rejected("message cannot be edited")
        await self.api.update_card(out_track_id(message_id), reply.text, reply.keyboard)
        await self._keep(chat_id, message_id, reply.text, reply.keyboard)

    async def answer(self, query_id: str, notice: Notice) -> None:
        return  # a card press shows no toast on DingTalk; the card itself changes

    async def set_commands(self, commands: Sequence[tuple[str, str]], *, language: str, chat_id: int | None) -> None:
        return  # DingTalk robots have no command menu; /help lists them

    async def download(self, file_id: str) -> bytes:
        return await self.api.download(file_id)

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        await TelegramTransport(self).deliver(chat_id, item)


def _split(text: str) -> list[str]:
    if len(text) <= MAX_TEXT:
        return [text]
    parts, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > MAX_TEXT:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:MAX_TEXT])
            line = line[MAX_TEXT:]
        if len(current) + len(line) > MAX_TEXT:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:MAX_TEXT]]


class DingTalkTransport:
    """The delivery queue's way to DingTalk (``bot.delivery.PartedTransport``).

    What DingTalk shows as several messages (a text longer than one message holds, a file and
    then its caption) is handed to the queue as parts, so a retry sends only what is missing.
    """

    def __init__(self, port: DingTalkPort) -> None:
        self.port = port

    def parts(self, item: Outgoing) -> Sequence[Outgoing]:
        if isinstance(item, FileReply) and item.caption:
            return (replace(item, caption=""), Reply(item.caption))
        # A plain text only: a location asked for gets its hint (and so its length) in the port.
        plain = isinstance(item, Reply) and item.keyboard is None and not item.edit
        if plain and isinstance(item, Reply) and len(item.text) > MAX_TEXT:
            return tuple(Reply(part) for part in _split(item.text))
        return (item,)

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        await TelegramTransport(self.port).deliver(chat_id, item)


def _card(keyboard: Keyboard | None) -> bool:
    """Whether a reply is sent as a card: it has buttons DingTalk can carry."""
    return keyboard is not None and any(b.data or b.url for b in keyboard.buttons())


class DingTalkBridge(TelegramBridge):
    """The shared bridge, plus DingTalk's one difference: coordinates typed when a location was asked.

    Whether one was asked is read from the person's stored conversation step (a step that
    takes a location), not from memory: after a restart, or on another process, the typed
    coordinates are still a location, and anywhere else they stay text.
    """

    async def _handle(self, msg: Incoming, query_id: str | None) -> None:
        await super()._handle(await self._typed_location(msg), query_id)

    async def _typed_location(self, msg: Incoming) -> Incoming:
        if msg.kind is not Kind.TEXT:
            return msg
        where = coordinates(msg.text)
        if where is None:
            return msg
        try:
            state = await self.router.store.load(msg.chat_id, msg.user_id)
        except Exception:
            # The router will meet the same outage and answer it; the text stays text.
            log.warning("chat %s: conversation step unknown; coordinates read as text", msg.chat_id)
            return msg
        flow = self.router.registry.flows.get(state.flow) if state is not None else None
        step = flow.steps.get(state.step) if flow is not None and state is not None else None
        if step is None or not step.location:
            return msg
        return replace(msg, kind=Kind.LOCATION, location=where, text="")

    def _from_reply_keyboard(self, msg: Incoming) -> Incoming:
        return msg  # DingTalk shows no reply keyboard: its other buttons are on a card

    def _remember_keyboards(self, chat_id: int, response: Any) -> None:
        return


class Inbound:
    """DingTalk's stream payloads → :class:`Incoming`; ``None`` for what the bot does not read."""

    def __init__(self, db: Database, port: DingTalkPort) -> None:
        self.db = db
        self.port = port

    async def _person(self, staff_id: object, nick: object, message_id: str) -> dict[str, Any] | None:
        if not isinstance(staff_id, str) or not staff_id or len(staff_id) > platforms.MAX_EXTERNAL_ID:
            return None  # someone outside the organisation, or a payload that is not DingTalk's
        chat_id = await platforms.chat_id_for(self.db, PLATFORM, staff_id)
        self.port.remember(chat_id, staff_id)
        return {
            "chat_id": chat_id,
            "user_id": chat_id,
            "update_id": update_id(message_id),
            "full_name": str(nick or "")[:256],
        }

    async def robot_message(self, data: Mapping[str, Any], message_id: str) -> Incoming | None:
        if str(data.get("conversationType") or "1") != "1":
            return None  # group chats: the bot serves one person at a time
        base = await self._person(data.get("senderStaffId"), data.get("senderNick"), message_id)
        if base is None:
            return None
        kind = data.get("msgtype")
        content = data.get("content") if isinstance(data.get("content"), dict) else {}
        assert isinstance(content, dict)
        if kind in ("text", "richText"):
            text = _text_of(data, content)
            if not text:
                return Incoming(Kind.OTHER, **base)
            command = parse_command(text, None)
            if command is not None:
                return Incoming(Kind.COMMAND, command=command[0], args=command[1], text=text, **base)
            return Incoming(Kind.TEXT, text=text, **base)
        code = content.get("downloadCode")
        if kind == "picture" and isinstance(code, str) and code:
            return Incoming(Kind.PHOTO, file=FileRef(code, mime_type="image/jpeg"), **base)
        if kind == "file" and isinstance(code, str) and code:
            name = content.get("fileName")
            ref = FileRef(code, str(name)[:255] if isinstance(name, str) else None)
            return Incoming(Kind.DOCUMENT, file=ref, **base)
        return Incoming(Kind.OTHER, **base)

    async def card_callback(self, data: Mapping[str, Any], message_id: str) -> Incoming | None:
        base = await self._person(data.get("userId"), "", message_id)
        message = message_id_of(str(data.get("outTrackId") or ""))
        if base is None:
            return None
        try:
            content = json.loads(str(data.get("content") or "{}"))
            params = content["cardPrivateData"]["params"]
            pressed = str(params["data"])
        except (ValueError, KeyError, TypeError):
            return None
        card = await self.port.card(message)
        if card is not None and card.chat_id != base["chat_id"]:
            card, message = None, None  # a card sent to someone else: nothing of it is theirs
        return Incoming(
            Kind.BUTTON,
            data=pressed[:256],
            text=card.labels.get(pressed, "") if card else "",
            message_id=message,
            message_text=card.text if card else "",
            **base,
        )


def _text_of(data: Mapping[str, Any], content: Mapping[str, Any]) -> str:
    """What a person typed: a text message's content, or a rich text's text parts joined."""
    text = data.get("text")
    if isinstance(text, dict) and isinstance(text.get("content"), str):
        return str(text["content"]).strip()
    parts = content.get("richText")
    if isinstance(parts, list):
        return "".join(str(p["text"]) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)).strip()
    return ""


Handle = Callable[[Incoming, str | None], Any]


class _Inbox(CallbackHandler):  # type: ignore[misc]
    """One of the SDK's callback handlers: translate, handle, and only then acknowledge."""

    def __init__(self, translate: Callable[[Mapping[str, Any], str], Any], handle: Handle) -> None:
        super().__init__()
        self.translate = translate
        self.handle = handle
        self.logger = log
        self._senders: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        data = message.data if isinstance(message.data, dict) else {}
        # Each frame gets a task of its own; a person's frames take this lock in the order
        # they arrived (nothing is awaited before it), so reading them cannot reorder them.
        sender = str(data.get("senderStaffId") or data.get("userId") or "")
        lock = self._senders.get(sender)
        if lock is None:
            lock = self._senders[sender] = asyncio.Lock()
        async with lock:
            return await self._process(message, data)

    async def _process(self, message: CallbackMessage, data: Mapping[str, Any]) -> tuple[int, str]:
        msg_id = str(message.headers.message_id or data.get("msgId") or "")
        try:
            incoming = await self.translate(data, str(data.get("msgId") or msg_id))
        except Exception:
            log.exception("DingTalk message %s could not be read", msg_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "error"
        if incoming is not None:
            await self.handle(incoming, msg_id if incoming.kind is Kind.BUTTON else None)
        return AckMessage.STATUS_OK, "OK"


class StreamClient(dingtalk_stream.DingTalkStreamClient):  # type: ignore[misc]
    """The SDK's client with two changes: the gateway's address is ours to set (the fake in
    tests) and it is opened without blocking the loop, and it stops when told (the SDK's
    own loop swallows cancellation and reconnects forever)."""

    def __init__(self, settings: Settings) -> None:
        client_id, secret = settings.dingtalk_credentials()
        super().__init__(Credential(client_id, secret), logger=log)
        self.gateway = f"{settings.dingtalk_stream_root}/v1.0/gateway/connections/open"
        self.connected = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def open_connection_async(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        topics = [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": "investbot",
            "localIp": "",
        }
        try:
            async with http.post(self.gateway, json=body) as response:
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ConnectionError(f"stream gateway unreachable ({type(exc).__name__})") from None
        if status != 200 or not isinstance(answer, dict) or "endpoint" not in answer or "ticket" not in answer:
            raise ConnectionError(f"stream gateway refused the connection ({status})")
        return answer

    async def run(self, http: aiohttp.ClientSession, *, retry: float = 3.0) -> None:
        """Keep the stream open until cancelled; reconnect after any failure."""
        self.pre_start()
        while True:
            try:
                connection = await self.open_connection_async(http)
                uri = f"{connection['endpoint']}?ticket={quote_plus(str(connection['ticket']))}"
                async with websockets.connect(uri) as websocket:
                    self.websocket = websocket
                    self.connected.set()
                    log.info("DingTalk stream connected")
                    async for raw in websocket:
                        try:
                            frame = json.loads(raw)
                        except ValueError:
                            continue
                        if isinstance(frame, dict):
                            task = asyncio.create_task(self.background_task(frame))
                            self._tasks.add(task)
                            task.add_done_callback(self._tasks.discard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("DingTalk stream lost (%s); reconnecting", type(exc).__name__)
            finally:
                self.connected.clear()
            await asyncio.sleep(retry)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            if self.websocket is not None:
                await self.websocket.close()


class DingTalkRunner:
    """One running bot on DingTalk; ``start`` and ``stop`` apart, so tests drive it in-process.

    The order mirrors the Telegram runner: database and router, the OpenAPI client and the
    outbox worker, the scheduled jobs (unless told not to), and only then the stream.
    """

    def __init__(self, settings: Settings, *, scheduler: bool = True) -> None:
        self.settings = settings
        self.scheduler = scheduler
        self.app: App | None = None
        self.router: Router | None = None
        self.api: OpenAPI | None = None
        self.port: DingTalkPort | None = None
        self.bridge: DingTalkBridge | None = None
        self.stream: StreamClient | None = None
        self.leadership: SchedulerLeadership | None = None
        self._leading: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None
        # How long to wait before opening the stream again after it was lost.
        self.reconnect_after = 3.0

    async def start(self) -> None:
        self.app, self.router = app, router = await build(self.settings)
        try:
            await self._start(app, router)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, app: App, router: Router) -> None:
        settings = self.settings
        self.api = api = OpenAPI(settings)
        # Wrong credentials stop the start here, in one line, not in a reconnecting loop.
        await api.token()
        self.port = port = DingTalkPort(api, app.db, default_locale=settings.default_locale)
        app.outbox.use(DingTalkTransport(port), DINGTALK)
        app.fetch_file = port.download
        router.queue_replies = True
        self.bridge = bridge = DingTalkBridge(router, port, outbox=app.outbox)
        inbound = Inbound(app.db, port)

        async def handle(msg: Incoming, query_id: str | None) -> None:
            await self._on_message(msg, query_id)

        self.stream = stream = StreamClient(settings)
        stream.register_callback_handler(ChatbotMessage.TOPIC, _Inbox(inbound.robot_message, handle))
        stream.register_callback_handler(CARD_TOPIC, _Inbox(inbound.card_callback, handle))
        self._tasks.append(asyncio.create_task(app.outbox.run(), name="outbox"))
        if self.scheduler:
            self.leadership = scheduler_leadership(app, retry=settings.scheduler_retry_seconds)
            self._leading = asyncio.create_task(self.leadership.run(), name="scheduler")
        self._http = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)
        self._tasks.append(
            asyncio.create_task(stream.run(self._http, retry=self.reconnect_after), name="dingtalk-stream")
        )
        log.info("receiving DingTalk messages through the stream at %s", settings.dingtalk_stream_root)
        assert bridge is not None

    async def _on_message(self, msg: Incoming, query_id: str | None) -> None:
        assert self.bridge is not None and self.app is not None
        if msg.kind in (Kind.TEXT, Kind.COMMAND) and msg.command != "start":
            try:
                await self._join_by_department(msg)
            except Exception:
                # The message is still answered: as to a stranger, who can ask for an invitation.
                log.exception("chat %s: joining by department failed", msg.chat_id)
        await self.bridge.handle(msg, query_id)

    async def _join_by_department(self, msg: Incoming) -> None:
        """A stranger from a department the bureau bound joins its unit without an invitation."""
        assert self.app is not None and self.port is not None and self.api is not None
        if not await platforms.has_departments(self.app.db, PLATFORM):
            return
        if await platforms.is_known(self.app.db, msg.chat_id):
            return
        try:
            staff = await self.port.staff_id(msg.chat_id)
            departments = await self.api.departments(staff)
        except DeliveryError as exc:
            log.warning("departments of chat %s unknown: %s", msg.chat_id, exc)
            return
        user = await platforms.join_by_department(
            self.app.db,
            platform=PLATFORM,
            chat_id=msg.chat_id,
            departments=departments,
            full_name=msg.full_name,
            now=self.app.now(),
        )
        if user is not None:
            log.info("chat %s joined unit %s through its DingTalk department", msg.chat_id, user.unit_id)

    async def stop(self) -> None:
        """Stop taking messages, finish those in flight, then close everything."""
        for task in self._tasks[1:]:
            task.cancel()
        if self.stream is not None:
            await self.stream.drain()
        if self.bridge is not None:
            await self.bridge.drain(SHUTDOWN_GRACE)
        await wind_down(self.app, self.leadership, self._leading, self._tasks)
        if self._http is not None:
            await self._http.close()
        if self.api is not None:
            await self.api.close()
        if self.app is not None:
            await self.app.db.dispose()
        log.info("stopped")


async def run_dingtalk(
    settings: Settings,
    *,
    scheduler: bool = True,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run the bot on DingTalk until SIGTERM/SIGINT (or ``stop`` is set)."""
    await run_until_stopped(DingTalkRunner(settings, scheduler=scheduler), stop=stop, handle_signals=handle_signals)
