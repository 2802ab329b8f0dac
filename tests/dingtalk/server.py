"""A fake DingTalk: the OpenAPI (token, robot messages, cards, media, file downloads, user
detail) and the Stream gateway with its websocket, on one local port.

It speaks what the real servers speak as far as the bot uses them, checks what the real ones
check (the app's credentials, the access token on every call, the ticket of the stream), and
records everything sent so that a test reads each person's chat as they would see it. It
pushes robot messages and card callbacks down the stream as DingTalk frames and resolves each
once the bot acknowledges it, which the SDK does after the bot has handled it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

CLIENT_ID = "dingtestrobot0001"
CLIENT_SECRET = "fake-dingtalk-secret-do-not-log-0123456789"
CARD_TOPIC = "/v1.0/card/instances/callback"
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
BAD_CREDENTIALS = {"code": "invalidClientIdOrSecret", "message": "无效的clientId或clientSecret"}


@dataclass
class Shown:
    """One message in a person's chat with the robot: text, a card, a file or an image."""

    kind: str  # "text" | "card" | "file" | "image"
    text: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    track: str | None = None
    edits: int = 0
    filename: str = ""
    content: bytes = b""

    def labels(self) -> list[str]:
        return [str(b["text"]) for b in self.buttons]

    def button(self, label: str) -> dict[str, Any]:
        for b in self.buttons:
            if b["text"] == label:
                return b
        for b in self.buttons:
            if label in str(b["text"]):
                return b
        raise AssertionError(f"no button {label!r} on {self.text!r}: {self.labels()}")


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeDingTalk:
    def __init__(self) -> None:
        self.chats: dict[str, list[Shown]] = {}
        self.tokens_issued: list[str] = []
        self.token_requests = 0
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status)
        self.media: dict[str, tuple[str, bytes]] = {}
        self.files: dict[str, bytes] = {}  # download code → what the person sent
        self.departments: dict[str, list[int]] = {}
        self.errors: list[str] = []
        #: failures served, in order, to the next calls of a path (``None``: that call succeeds)
        self.fail: dict[str, list[Failure | None]] = {}
        self.connections = 0
        self._tickets: set[str] = set()
        self._ws: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.root = ""

    # -- running -------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDingTalk:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._stream)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._card)
        app.router.add_put("/v1.0/card/instances", self._card_update)
        app.router.add_post("/media/upload", self._upload)
        app.router.add_post("/v1.0/robot/messageFiles/download", self._download)
        app.router.add_get("/files/{code}", self._file)
        app.router.add_post("/topapi/v2/user/get", self._user)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        port = server.sockets[0].getsockname()[1]
        self.root = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    async def connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def drop_stream(self) -> None:
        """Close the websocket from the server's side, as DingTalk does now and then."""
        assert self._ws is not None
        self._connected.clear()
        await self._ws.close()

    async def wait_for(self, staff_id: str, contains: str, timeout: float = 10.0) -> Shown:  # noqa: ASYNC109
        """The first message in a person's chat that shows ``contains``, once it arrives."""
        async with asyncio.timeout(timeout):
            while True:
                for shown in self.chat(staff_id):
                    if contains in shown.text:
                        return shown
                await asyncio.sleep(0.02)

    # -- what the test reads -------------------------------------------------------------
    def chat(self, staff_id: str) -> list[Shown]:
        return self.chats.setdefault(staff_id, [])

    def card_by_track(self, track: str) -> Shown | None:
        for shown in (s for chat in self.chats.values() for s in chat):
            if shown.track == track:
                return shown
        return None

    # -- what a person does --------------------------------------------------------------
    async def _push(self, topic: str, data: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:  # noqa: ASYNC109
        await self.connected()
        assert self._ws is not None
        message_id = f"msg-{next(self._ids)}-{secrets.token_hex(4)}"
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[message_id] = ack
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": CLIENT_ID,
                "connectionId": "conn-1",
                "contentType": "application/json",
                "messageId": message_id,
                "time": str(int(time.time() * 1000)),
                "topic": topic,
            },
            "data": json.dumps(data, ensure_ascii=False),
        }
        await self._ws.send_str(json.dumps(frame, ensure_ascii=False))
        async with asyncio.timeout(timeout):
            return await ack

    def _robot(self, staff_id: str, nick: str, msgtype: str, **content: Any) -> dict[str, Any]:
        return {
            "conversationId": f"cid-{staff_id}",
            "conversationType": "1",
            "msgId": f"msg{next(self._ids)}{secrets.token_hex(6)}",
            "senderNick": nick,
            "senderStaffId": staff_id,
            "senderId": f"$:LWCP_v1:${staff_id}",
            "senderCorpId": "dingcorp",
            "chatbotUserId": "$:LWCP_v1:$robot",
            "robotCode": CLIENT_ID,
            "isAdmin": False,
            "createAt": int(time.time() * 1000),
            "msgtype": msgtype,
            **content,
        }

    async def send_text(self, staff_id: str, text: str, nick: str = "测试") -> dict[str, Any]:
        return await self._push(ROBOT_TOPIC, self._robot(staff_id, nick, "text", text={"content": text}))

    async def send_raw(self, data: dict[str, Any], topic: str = ROBOT_TOPIC) -> dict[str, Any]:
        return await self._push(topic, data)

    async def send_file(self, staff_id: str, filename: str, content: bytes, nick: str = "测试") -> dict[str, Any]:
        code = f"dl{secrets.token_hex(8)}"
        self.files[code] = content
        data = self._robot(staff_id, nick, "file", content={"downloadCode": code, "fileName": filename})
        return await self._push(ROBOT_TOPIC, data)

    async def send_picture(self, staff_id: str, content: bytes, nick: str = "测试") -> dict[str, Any]:
        code = f"dl{secrets.token_hex(8)}"
        self.files[code] = content
        data = self._robot(staff_id, nick, "picture", content={"downloadCode": code})
        return await self._push(ROBOT_TOPIC, data)

    async def press(self, staff_id: str, card: Shown, label: str, *, data: str | None = None) -> dict[str, Any]:
        button = card.button(label)
        params = dict(button.get("params") or {})
        if data is not None:
            params["data"] = data
        callback = {
            "corpId": "dingcorp",
            "userId": staff_id,
            "outTrackId": card.track,
            "type": "actionCallback",
            "content": json.dumps({"cardPrivateData": {"actionIds": [button["id"]], "params": params}}),
            "extension": "{}",
        }
        return await self._push(CARD_TOPIC, callback)

    # -- the endpoints -------------------------------------------------------------------
    def _failure(self, path: str) -> web.Response | None:
        queued = self.fail.get(path)
        if queued:
            f = queued.pop(0)
            if f is None:
                return None
            self.calls.append(("FAIL", path, f.status))
            return web.json_response(f.body, status=f.status, headers=f.headers)
        return None

    def _authorized(self, request: web.Request) -> bool:
        token = request.headers.get("x-acs-dingtalk-access-token") or request.query.get("access_token")
        return token is not None and token in self.tokens_issued

    def _unauthorized(self) -> web.Response:
        return web.json_response({"code": "InvalidAuthentication", "message": "不合法的access_token"}, status=401)

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.token_requests += 1
        if body.get("appKey") != CLIENT_ID or body.get("appSecret") != CLIENT_SECRET:
            return web.json_response(BAD_CREDENTIALS, status=400)
        token = secrets.token_hex(16)
        self.tokens_issued.append(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
            return web.json_response(BAD_CREDENTIALS, status=400)
        topics = {s.get("topic") for s in body.get("subscriptions") or []}
        if not {ROBOT_TOPIC, CARD_TOPIC} <= topics:
            self.errors.append(f"subscribed to {topics}")
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        endpoint = self.root.replace("http://", "ws://") + "/connect"
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=403)
        self._tickets.discard(request.query["ticket"])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        self._connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            ack = self._acks.pop(str((frame.get("headers") or {}).get("messageId")), None)
            if ack is not None and not ack.done():
                ack.set_result(frame)
        self._connected.clear()
        return ws

    async def _batch_send(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        failed = self._failure("batchSend")
        if failed is not None:
            return failed
        body = await request.json()
        if body.get("robotCode") != CLIENT_ID:
            self.errors.append(f"robotCode {body.get('robotCode')}")
        param = json.loads(body["msgParam"])
        invalid = []
        for staff in body["userIds"]:
            if staff.startswith("gone"):
                invalid.append(staff)
                continue
            key = body["msgKey"]
            if key == "sampleText":
                self.chat(staff).append(Shown("text", text=param["content"]))
            elif key == "sampleFile":
                name, content = self.media[param["mediaId"]]
                if param["fileName"] != name:
                    self.errors.append(f"file name {param['fileName']} for media {name}")
                self.chat(staff).append(Shown("file", filename=name, content=content))
            elif key == "sampleImageMsg":
                name, content = self.media[param["photoURL"]]
                self.chat(staff).append(Shown("image", filename=name, content=content))
            else:
                self.errors.append(f"unknown msgKey {key}")
        self.calls.append(("POST", "batchSend", 200))
        return web.json_response(
            {"processQueryKey": secrets.token_hex(8), "invalidStaffIdList": invalid, "flowControlledStaffIdList": []}
        )

    def _card_content(self, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        params = body["cardData"]["cardParamMap"]
        buttons = json.loads(params.get("sys_full_json_obj") or "{}").get("msgButtons", [])
        return str(params.get("markdown", "")), list(buttons)

    async def _card(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        failed = self._failure("card")
        if failed is not None:
            return failed
        body = await request.json()
        space = str(body.get("openSpaceId", ""))
        if not space.startswith("dtv1.card//IM_ROBOT.") or body.get("callbackType") != "STREAM":
            self.errors.append(f"card to {space} with {body.get('callbackType')}")
        staff = space.removeprefix("dtv1.card//IM_ROBOT.")
        text, buttons = self._card_content(body)
        self.chat(staff).append(Shown("card", text=text, buttons=buttons, track=body["outTrackId"]))
        self.calls.append(("POST", "card", 200))
        return web.json_response({"success": True, "result": {"outTrackId": body["outTrackId"]}})

    async def _card_update(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        card = self.card_by_track(str(body.get("outTrackId")))
        if card is None:
            return web.json_response({"code": "param.cardNotExist", "message": "卡片不存在"}, status=400)
        card.text, card.buttons = self._card_content(body)
        card.edits += 1
        self.calls.append(("PUT", "card", 200))
        return web.json_response({"success": True, "result": True})

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        failed = self._failure("upload")
        if failed is not None:
            return failed
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField) or form.get("type") not in ("image", "file"):
            return web.json_response({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
        media_id = f"@media{secrets.token_hex(6)}"
        self.media[media_id] = (media.filename, media.file.read())
        return web.json_response({"errcode": 0, "errmsg": "ok", "media_id": media_id, "type": form["type"]})

    async def _download(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        code = str(body.get("downloadCode"))
        if code not in self.files or body.get("robotCode") != CLIENT_ID:
            return web.json_response({"code": "invalidParameter.downloadCode", "message": "下载码无效"}, status=400)
        return web.json_response({"downloadUrl": f"{self.root}/files/{code}"})

    async def _file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["code"])
        return web.Response(body=content) if content is not None else web.Response(status=404)

    async def _user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        body = await request.json()
        found = self.departments.get(str(body.get("userid")))
        if found is None:
            return web.json_response({"errcode": 60121, "errmsg": "找不到该用户"})
        return web.json_response({"errcode": 0, "result": {"userid": body["userid"], "dept_id_list": found}})
