"""A chat in the terminal on the embedded database: be any seeded person, try everything.

Keyboards are shown as numbered choices: type the number to press one. Lines starting
with ``:`` are console controls (``:help`` lists them).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.core import FileRef, FileReply, Incoming, Keyboard, Kind, Location, Notice, Outgoing, Reply, Response
from bot.core.i18n import Translator
from bot.router import Router
from services import demo

ReadLine = Callable[[str], Awaitable[str | None]]


async def _stdin_line(prompt: str) -> str | None:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


class ConsoleTransport:
    """Messages the bot sends to others show up in the terminal, marked with the recipient."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        text = item.text if isinstance(item, Reply | Notice) else f"[{item.filename}]"
        self.out.write(f"\n  \u2709 \u2192 {chat_id}: {text}\n")


class Console:
    def __init__(
        self,
        router: Router,
        *,
        read: ReadLine = _stdin_line,
        out: TextIO = sys.stdout,
        files_dir: Path = Path("data/console-files"),
    ) -> None:
        self.router = router
        self.read = read
        self.out = out
        self.files_dir = files_dir
        self.user_id = 0
        self.language_code = "zh-hans"
        self.keyboard: Keyboard | None = None
        self.keyboard_message: tuple[int, str] | None = None
        self._message_ids = itertools.count(1)
        self._ = Translator(router.app.settings.default_locale)

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def choose_person(self) -> bool:
        self.write(self._("console.choose"))
        people = demo.DEMO_PEOPLE
        for number, person in enumerate(people, 1):
            self.write(f"  {number}. {person.full_name} — {self._('role.' + person.role.value)} ({person.unit_code})")
        self.write(f"  {len(people) + 1}. {self._('console.newcomer')}")
        while True:
            line = await self.read("> ")
            if line is None:
                return False
            if line.strip().isdigit() and 1 <= int(line) <= len(people) + 1:
                index = int(line)
                chosen = people[index - 1] if index <= len(people) else None
                self.user_id = chosen.telegram_id if chosen else demo.NEWCOMER_ID
                name = chosen.full_name if chosen else self._("console.newcomer_name")
                self.keyboard = None
                self.write(self._("console.now_you_are", name=name, id=self.user_id))
                self.show(await self.router.ask_again(self.user_id, self.user_id, self.language_code))
                return True
            self.write(self._("console.choose_number"))

    async def run(self) -> None:
        self.write(self._("console.welcome"))
        if not await self.choose_person():
            return
        while True:
            line = await self.read("> ")
            if line is None or line.strip() in (":q", ":quit", ":exit"):
                return
            msg = await self.parse(line)
            if msg is None:
                continue
            self.show(await self.router.handle(msg))
            await self.router.app.outbox.flush()

    def _msg(self, kind: Kind, **fields: Any) -> Incoming:
        return Incoming(
            kind,
            chat_id=self.user_id,
            user_id=self.user_id,
            language_code=self.language_code,
            full_name=self._("console.newcomer_name"),
            **fields,
        )

    async def parse(self, line: str) -> Incoming | None:
        text = line.rstrip("\n")
        stripped = text.strip()
        if stripped.startswith(":"):
            return await self.control(stripped)
        if self.keyboard is not None and stripped.isdigit():
            buttons = self.keyboard.buttons()
            index = int(stripped) - 1
            if 0 <= index < len(buttons):
                pressed = buttons[index]
                if pressed.request_location:
                    self.write(self._("console.location_hint"))
                    return None
                message_id, message_text = self.keyboard_message or (None, "")
                return self._msg(
                    Kind.BUTTON,
                    data=pressed.data,
                    text=pressed.label,
                    message_id=message_id,
                    message_text=message_text,
                )
        if stripped.startswith("/"):
            command, _, args = stripped[1:].partition(" ")
            return self._msg(Kind.COMMAND, command=command.split("@")[0].lower(), args=args.strip(), text=stripped)
        return self._msg(Kind.TEXT, text=text)

    async def control(self, line: str) -> Incoming | None:
        name, _, rest = line[1:].partition(" ")
        if name == "who":
            await self.choose_person()
            return None
        if name == "loc":
            try:
                lat, lon = (float(part) for part in rest.replace(",", " ").split())
            except ValueError:
                self.write(self._("console.location_hint"))
                return None
            return self._msg(Kind.LOCATION, location=Location(lat, lon))
        if name in ("photo", "file"):
            # A local terminal and one stat: not worth a thread.
            path = Path(rest.strip()).expanduser()  # noqa: ASYNC240
            if not path.is_file():
                self.write(self._("console.no_such_file", path=str(path)))
                return None
            ref = FileRef(file_id=str(path.resolve()), file_name=path.name, size=path.stat().st_size)
            return self._msg(Kind.PHOTO if name == "photo" else Kind.DOCUMENT, file=ref, text="")
        if name == "lang":
            self.language_code = rest.strip() or self.language_code
            return None
        self.write(self._("console.controls"))
        return None

    def show(self, response: Response) -> None:
        for item in response.items:
            if isinstance(item, Notice):
                if item.text:
                    self.write(f"  ({item.text})")
            elif isinstance(item, FileReply):
                self.files_dir.mkdir(parents=True, exist_ok=True)
                path = self.files_dir / item.filename
                path.write_bytes(item.content)
                self.write(self._("console.file_saved", path=str(path), caption=item.caption))
            else:
                self.write(("\u270e " if item.edit else "") + item.text)
                if item.keyboard is not None:
                    self.keyboard = item.keyboard
                    self.keyboard_message = (next(self._message_ids), item.text)
                    for number, button in enumerate(item.keyboard.buttons(), 1):
                        self.write(f"   [{number}] {button.label}")
                elif item.edit:
                    self.keyboard = None
        self.write()


async def _read_local_file(file_id: str) -> bytes:
    return await asyncio.to_thread(Path(file_id).read_bytes)


async def run_console(router: Router, *, read: ReadLine = _stdin_line, out: TextIO = sys.stdout) -> None:
    await demo.seed_demo_people(router.app.db)
    # The bureau's demo person administers, so that every conversation can be tried here.
    settings = router.app.settings
    router.app.settings = settings.model_copy(
        update={"bot_admin_ids": settings.bot_admin_ids | {demo.ADMINISTRATOR_ID}}
    )
    # In the console a "file id" is the path the person typed.
    router.app.fetch_file = _read_local_file
    await Console(router, read=read, out=out).run()
