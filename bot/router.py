"""From an incoming event to the replies: who is this, may they, which conversation.

The router is the only place that reads and writes conversation state. Handlers get a
:class:`~bot.conversation.Context` and return where to go next; the router saves the
step and draft after every message, so a restart or another process continues from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from weakref import WeakValueDictionary

from sqlalchemy.exc import IntegrityError
from sqlmodel import delete, select, update

from bot.app import App
from bot.conversation import (
    ACTION_PREFIX,
    Action,
    Command,
    Context,
    DocumentHandler,
    Flow,
    Member,
    Next,
)
from bot.core import Button, Incoming, Keyboard, Kind, Notice, Outgoing, Reply, Response
from bot.db import is_unavailable
from bot.i18n import normalize_locale, translate
from models import ConversationState, ParkedDraft, ProcessedUpdate, Role, utcnow
from services import members

log = logging.getLogger(__name__)

RESUME_FLOW = "_resume"
VERSION_SEP = "|"


@dataclass
class Registry:
    """Every flow, command and action, gathered in one place (see ``handlers/__init__``)."""

    flows: dict[str, Flow] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    documents: DocumentHandler | None = None
    # What a location or a photo sent outside any conversation starts (a visit, there).
    outside: dict[Kind, DocumentHandler] = field(default_factory=dict)
    # Shown to people who are not registered, whatever they send (except /start <code>).
    public_commands: frozenset[str] = frozenset({"start"})

    def add_flow(self, flow: Flow, *, listed: bool = True) -> None:
        """Register a flow and its command; ``listed=False`` keeps it out of /help (flows
        that buttons open with a prefilled draft, see ``Context.start_flow``)."""
        self.flows[flow.name] = flow
        self.commands[flow.command] = Command(
            name=flow.command, run=_never, roles=flow.roles, help_key=f"help.{flow.command}" if listed else None
        )

    def add_command(self, command: Command) -> None:
        self.commands[command.name] = command

    def add_action(self, action: Action) -> None:
        self.actions[action.prefix] = action

    def flow_for_command(self, name: str) -> Flow | None:
        return next((f for f in self.flows.values() if f.command == name), None)

    def commands_for(self, role: Role | None) -> list[Command]:
        """The commands a person of ``role`` may use, in registration order."""
        return [
            c
            for c in self.commands.values()
            if c.help_key and (c.roles is None or (role is not None and role in c.roles))
        ]


async def _never(ctx: Context, msg: Incoming) -> None:  # pragma: no cover - flows start elsewhere
    raise AssertionError("flow commands are started by the router")


def allowed(roles: frozenset[Role] | None, member: Member | None) -> bool:
    return member is not None and (roles is None or member.role in roles)


@dataclass
class _Trace:
    """What the log line of an update says about the conversation it touched."""

    conversation: str | None = None
    step: str | None = None

    def at(self, state: _State | None, flow: str | None = None) -> None:
        if state is not None:
            self.conversation, self.step = state.flow, state.step
        elif flow is not None:
            self.conversation, self.step = flow, None


PREVIEW_CHARS = 12


def preview(msg: Incoming) -> str:
    """A log's glimpse of a message: the command or button, or the first few characters.

    Never more: messages carry enterprises' plans and amounts, and ``/start`` an invite code.
    """
    if msg.kind is Kind.COMMAND:
        return f"/{msg.command}"
    if msg.kind is Kind.BUTTON:
        return msg.data[:32]
    text = msg.text or ""
    return text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")


@dataclass
class _State:
    flow: str
    step: str
    draft: dict[str, Any]
    version: int


class Router:
    def __init__(self, app: App, registry: Registry) -> None:
        self.app = app
        self.registry = registry
        # One person's messages are handled in order; different people in parallel.
        self._locks: WeakValueDictionary[tuple[int, int], asyncio.Lock] = WeakValueDictionary()

    # -- entry point ----------------------------------------------------------------
    async def handle(self, msg: Incoming) -> Response:
        key = (msg.chat_id, msg.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            started = time.perf_counter()
            outcome = "ok"
            trace = _Trace()
            try:
                if msg.update_id is not None and not await self._first_delivery(msg.update_id):
                    outcome = "duplicate"
                    return Response()
                return await self._handle(msg, trace)
            except Exception as error:
                if is_unavailable(error):
                    outcome = "unavailable"
                    log.warning(
                        "update %s from user %s: database unavailable (%s)",
                        msg.update_id,
                        msg.user_id,
                        type(error).__name__,
                    )
                    return self._unavailable(msg)
                outcome = "error"
                log.exception("update %s from user %s failed", msg.update_id, msg.user_id)
                return self._failure(msg)
            finally:
                log.info(
                    "update handled",
                    extra={
                        "update_id": msg.update_id,
                        "user_id": msg.user_id,
                        "chat_id": msg.chat_id,
                        "kind": msg.kind.value,
                        "conversation": trace.conversation,
                        "step": trace.step,
                        "outcome": outcome,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "preview": preview(msg),
                    },
                )

    def _failure(self, msg: Incoming) -> Response:
        ctx = Context(self.app, msg, None, normalize_locale(msg.language_code, self.app.settings.default_locale))
        items: list[Outgoing] = []
        if msg.kind is Kind.BUTTON:
            items.append(Notice(ctx._("core.error")))
        items.append(Reply(ctx._("core.error")))
        return Response(items)

    def _unavailable(self, msg: Incoming) -> Response:
        """Say "try again shortly" without the database (which is what failed)."""
        locale = normalize_locale(msg.language_code, self.app.settings.default_locale)
        items: list[Outgoing] = []
        if msg.kind is Kind.BUTTON:
            items.append(Notice(translate(locale, "ops.db_unavailable.short")))
        items.append(Reply(translate(locale, "ops.db_unavailable")))
        return Response(items)

    async def _first_delivery(self, update_id: int) -> bool:
        try:
            async with self.app.db.session() as session:
                session.add(ProcessedUpdate(update_id=update_id))
        except IntegrityError:
            log.info("update %s already handled; ignoring the redelivery", update_id)
            return False
        return True

    async def _handle(self, msg: Incoming, trace: _Trace) -> Response:
        member = await members.load_member(
            self.app.db,
            msg.user_id,
            admin_ids=self.app.settings.bot_admin_ids,
            full_name=msg.full_name,
            username=msg.username,
            language_code=msg.language_code,
        )
        locale = self.locale_for(member, msg.language_code)
        state = await self._load_state(msg)
        ctx = Context(self.app, msg, member, locale)
        trace.at(state)

        if member is None:
            await self._unregistered(ctx, msg)
            return self._finish(ctx, msg, state, state)

        if msg.kind is Kind.COMMAND:
            new_state = await self._command(ctx, msg, state)
        elif msg.kind is Kind.BUTTON and msg.data.startswith(ACTION_PREFIX):
            new_state = await self._action(ctx, msg, state)
        elif msg.kind is Kind.BUTTON:
            new_state = await self._press(ctx, msg, state)
        elif state is not None and self._document_elsewhere(msg, state, member):
            # The step would answer "please type"; the file is for the importer, and the
            # draft stays as it was.
            ctx.say(ctx._("core.document_in_flow", what=self._title(ctx, state.flow)))
            new_state = state
        elif state is not None:
            new_state = await self._answer(ctx, msg, state)
        elif msg.kind is Kind.DOCUMENT and self.registry.documents and allowed(self.registry.documents.roles, member):
            await self.registry.documents.run(ctx, msg)
            new_state = None
        elif state is None and (outside := self.registry.outside.get(msg.kind)) and allowed(outside.roles, member):
            await outside.run(ctx, msg)
            new_state = await self._begin(ctx, msg, state)
        else:
            ctx.say(ctx._("core.idle"))
            new_state = None
        started = self.registry.flow_for_command(msg.command) if msg.kind is Kind.COMMAND else None
        trace.at(new_state or state, started.name if started else None)
        await self._save_state(msg, state, new_state)
        return self._finish(ctx, msg, state, new_state)

    def _document_elsewhere(self, msg: Incoming, state: _State, member: Member) -> bool:
        """A file the current step does not take, from someone the document handler serves."""
        if msg.kind is not Kind.DOCUMENT or state.flow == RESUME_FLOW:
            return False
        documents = self.registry.documents
        if documents is None or not allowed(documents.roles, member):
            return False
        flow = self.registry.flows.get(state.flow)
        step = flow.steps.get(state.step) if flow else None
        return step is not None and not step.documents

    def locale_for(self, member: Member | None, language_code: str | None) -> str:
        if member is not None and member.locale:
            return member.locale
        return normalize_locale(language_code, self.app.settings.default_locale)

    # -- not registered ---------------------------------------------------------------
    async def _unregistered(self, ctx: Context, msg: Incoming) -> None:
        if msg.kind is Kind.COMMAND and msg.command == "start" and msg.args.strip():
            start = self.registry.commands.get("start")
            if start is not None:
                await start.run(ctx, msg)
                return
        if msg.kind is Kind.BUTTON:
            ctx.notice(ctx._("core.not_registered.short"))
        ctx.say(ctx._("core.not_registered"))

    # -- commands -----------------------------------------------------------------------
    async def _command(self, ctx: Context, msg: Incoming, state: _State | None) -> _State | None:
        name = msg.command
        if name == "cancel":
            if state is None:
                ctx.say(ctx._("core.cancel.nothing"), remove_keyboard=True)
            else:
                ctx.say(ctx._("core.cancel.done", what=self._title(ctx, state.flow)), remove_keyboard=True)
            return None
        command = self.registry.commands.get(name)
        if command is None:
            ctx.say(ctx._("core.unknown_command", command=name))
            return state
        if not allowed(command.roles, ctx.member):
            ctx.say(ctx._("core.not_allowed", command=name))
            return state
        flow = self.registry.flow_for_command(name)
        if flow is None:
            await command.run(ctx, msg)
            if state is not None and state.flow != RESUME_FLOW:
                ctx.say(ctx._("core.still_in_flow", what=self._title(ctx, state.flow)))
            return state
        await self._set_aside(ctx, msg, state)
        parked = await self._parked(msg, flow.name)
        if parked is not None:
            return self._offer_resume(ctx, flow, parked, state)
        return await self._start(ctx, flow, msg, state)

    async def _set_aside(self, ctx: Context, msg: Incoming, state: _State | None) -> None:
        """A command always wins over a half-finished conversation: park it, resumable."""
        if state is not None and state.flow != RESUME_FLOW:
            await self._park(msg, state)
            ctx.say(ctx._("core.parked", what=self._title(ctx, state.flow), command=self._command_of(state.flow)))

    async def _start(
        self, ctx: Context, flow: Flow, msg: Incoming, old: _State | None, draft: dict[str, Any] | None = None
    ) -> _State | None:
        ctx.flow, ctx.draft = flow.name, dict(draft or {})
        nxt = await flow.start(ctx, msg)
        return await self._apply(ctx, flow, nxt, None, old)

    def _offer_resume(self, ctx: Context, flow: Flow, parked: ParkedDraft, old: _State | None) -> _State:
        summary = flow.describe(parked.draft) if flow.describe else ""
        local = parked.parked_at.astimezone(self.app.tz).strftime("%Y-%m-%d %H:%M")
        ctx.say(
            ctx._("core.resume.offer", what=self._title(ctx, flow.name), when=local, summary=summary),
            Keyboard.column(
                [
                    Button(ctx._("core.resume.continue"), "resume"),
                    Button(ctx._("core.resume.fresh"), "fresh"),
                ]
            ),
        )
        return _State(RESUME_FLOW, "offer", {"flow": flow.name}, (old.version if old else 0) + 1)

    # -- buttons ------------------------------------------------------------------------
    async def _action(self, ctx: Context, msg: Incoming, state: _State | None) -> _State | None:
        prefix, _, arg = msg.data[len(ACTION_PREFIX) :].partition(":")
        action = self.registry.actions.get(prefix)
        if action is None or not allowed(action.roles, ctx.member):
            ctx.notice(ctx._("core.expired"))
            return state
        await action.run(ctx, msg, arg)
        return await self._begin(ctx, msg, state)

    async def _begin(self, ctx: Context, msg: Incoming, state: _State | None) -> _State | None:
        """Open the flow a handler asked for with ``Context.start_flow``, if it did."""
        if ctx.begin is None:
            return state
        name, draft = ctx.begin
        flow = self.registry.flows.get(name)
        if flow is None or not allowed(flow.roles, ctx.member):
            ctx.say(ctx._("core.not_allowed", command=flow.command if flow else name))
            return state
        # Like a command: whatever the person was in is parked, and the new flow starts
        # with the draft the action prepared (a parked draft of the same flow stays parked).
        await self._set_aside(ctx, msg, state)
        return await self._start(ctx, flow, msg, state, draft)

    async def _press(self, ctx: Context, msg: Incoming, state: _State | None) -> _State | None:
        version, sep, data = msg.data.partition(VERSION_SEP)
        if state is None or not sep or version != str(state.version):
            ctx.notice(ctx._("core.expired"))
            if msg.message_id is not None:
                ctx.edit(msg.message_text or ctx._("core.expired"))
            return state
        pressed = replace(msg, data=data)
        if msg.message_id is not None and msg.message_text:
            # Keep the question and the choice in the chat, drop the spent keyboard.
            label = msg.text or data
            ctx.edit(f"{msg.message_text}\n\u2192 {label}")
        if state.flow == RESUME_FLOW:
            return await self._resume_choice(ctx, pressed, state)
        return await self._answer(ctx, pressed, state)

    async def _resume_choice(self, ctx: Context, msg: Incoming, state: _State) -> _State | None:
        flow = self.registry.flows.get(str(state.draft.get("flow")))
        if flow is None:
            return None
        parked = await self._parked(msg, flow.name)
        await self._unpark(msg, flow.name)
        if msg.data == "resume" and parked is not None:
            resumed = _State(flow.name, parked.step, dict(parked.draft), state.version)
            ctx.flow, ctx.step, ctx.draft = flow.name, parked.step, resumed.draft
            return await self._apply(ctx, flow, Next.to(parked.step), resumed, state)
        return await self._start(ctx, flow, msg, state)

    # -- answers within a flow ----------------------------------------------------------
    async def _answer(self, ctx: Context, msg: Incoming, state: _State) -> _State | None:
        if state.flow == RESUME_FLOW:
            ctx.say(ctx._("core.resume.choose"))
            return state
        flow = self.registry.flows.get(state.flow)
        step = flow.steps.get(state.step) if flow else None
        if flow is None or step is None:
            log.warning("dropping state of unknown flow/step %s/%s", state.flow, state.step)
            ctx.say(ctx._("core.idle"))
            return None
        if not allowed(flow.roles, ctx.member):
            return None
        ctx.flow, ctx.step, ctx.draft = state.flow, state.step, dict(state.draft)
        nxt = await step.handle(ctx, msg)
        return await self._apply(ctx, flow, nxt, state, state)

    async def _apply(
        self, ctx: Context, flow: Flow, nxt: Next, current: _State | None, old: _State | None
    ) -> _State | None:
        """Carry out a step's verdict: ask the next question, ask again, or finish."""
        version = (old.version if old else 0) + 1
        if nxt.done:
            return None
        if nxt.error is not None:
            ctx.say(nxt.error)
            if current is None:
                return old
            await flow.steps[current.step].ask(ctx)
            return _State(flow.name, current.step, ctx.draft, version)
        if nxt.stay:
            if current is None:
                return old
            return _State(flow.name, current.step, ctx.draft, version)
        assert nxt.goto is not None
        ctx.step = nxt.goto
        await flow.steps[nxt.goto].ask(ctx)
        return _State(flow.name, nxt.goto, ctx.draft, version)

    # -- state in the database --------------------------------------------------------
    async def _load_state(self, msg: Incoming) -> _State | None:
        async with self.app.db.session() as session:
            row = await session.get(ConversationState, (msg.chat_id, msg.user_id))
            if row is None:
                return None
            return _State(row.flow, row.step, dict(row.draft), row.version)

    async def current_step(self, chat_id: int, user_id: int) -> tuple[str, str] | None:
        """Which flow and step a person is in (the console shows it after a restart)."""
        async with self.app.db.session() as session:
            row = await session.get(ConversationState, (chat_id, user_id))
            return (row.flow, row.step) if row else None

    async def ask_again(self, chat_id: int, user_id: int, language_code: str | None = None) -> Response:
        """Repeat the current question, e.g. when a person comes back after a restart."""
        msg = Incoming(Kind.TEXT, chat_id, user_id, language_code=language_code)
        member = await members.load_member(self.app.db, user_id, admin_ids=self.app.settings.bot_admin_ids)
        state = await self._load_state(msg)
        ctx = Context(self.app, msg, member, self.locale_for(member, language_code))
        if state is None or member is None:
            return Response()
        if state.flow == RESUME_FLOW:
            ctx.say(ctx._("core.resume.choose"))
            return Response(ctx.out)
        flow = self.registry.flows.get(state.flow)
        if flow is None or state.step not in flow.steps:
            return Response()
        ctx.flow, ctx.step, ctx.draft = state.flow, state.step, dict(state.draft)
        ctx.say(ctx._("core.resumed_after_restart", what=self._title(ctx, state.flow)))
        await flow.steps[state.step].ask(ctx)
        # Keyboards of the repeated question must be pressable: they carry the saved version.
        return self._finish(ctx, msg, state, state)

    async def _save_state(self, msg: Incoming, old: _State | None, new: _State | None) -> None:
        if new is old:
            return
        async with self.app.db.session() as session:
            if new is None:
                await session.exec(
                    delete(ConversationState).where(
                        ConversationState.chat_id == msg.chat_id,  # type: ignore[arg-type]
                        ConversationState.user_id == msg.user_id,  # type: ignore[arg-type]
                    )
                )
                return
            if old is None:
                session.add(
                    ConversationState(
                        chat_id=msg.chat_id,
                        user_id=msg.user_id,
                        flow=new.flow,
                        step=new.step,
                        draft=new.draft,
                        version=new.version,
                        updated_at=utcnow(),
                    )
                )
                return
            # Compare-and-set on the version: a second process that moved this
            # conversation meanwhile wins, and this write is dropped (and logged).
            result = await session.exec(
                update(ConversationState)
                .where(
                    ConversationState.chat_id == msg.chat_id,  # type: ignore[arg-type]
                    ConversationState.user_id == msg.user_id,  # type: ignore[arg-type]
                    ConversationState.version == old.version,  # type: ignore[arg-type]
                )
                .values(flow=new.flow, step=new.step, draft=new.draft, version=new.version, updated_at=utcnow())
            )
            if result.rowcount == 0:
                log.warning("conversation of user %s moved elsewhere; keeping that state", msg.user_id)

    async def _park(self, msg: Incoming, state: _State) -> None:
        async with self.app.db.session() as session:
            row = await session.get(ParkedDraft, (msg.chat_id, msg.user_id, state.flow))
            if row is None:
                row = ParkedDraft(chat_id=msg.chat_id, user_id=msg.user_id, flow=state.flow, step=state.step)
            row.step, row.draft, row.parked_at = state.step, state.draft, utcnow()
            session.add(row)

    async def _parked(self, msg: Incoming, flow: str) -> ParkedDraft | None:
        async with self.app.db.session() as session:
            return await session.get(ParkedDraft, (msg.chat_id, msg.user_id, flow))

    async def _unpark(self, msg: Incoming, flow: str) -> None:
        async with self.app.db.session() as session:
            await session.exec(
                delete(ParkedDraft).where(
                    ParkedDraft.chat_id == msg.chat_id,  # type: ignore[arg-type]
                    ParkedDraft.user_id == msg.user_id,  # type: ignore[arg-type]
                    ParkedDraft.flow == flow,  # type: ignore[arg-type]
                )
            )

    async def parked_flows(self, chat_id: int, user_id: int) -> list[str]:
        async with self.app.db.session() as session:
            rows = await session.exec(
                select(ParkedDraft.flow).where(ParkedDraft.chat_id == chat_id, ParkedDraft.user_id == user_id)
            )
            return list(rows.all())

    # -- output -------------------------------------------------------------------------
    def _finish(self, ctx: Context, msg: Incoming, old: _State | None, new: _State | None) -> Response:
        """Stamp flow keyboards with the state version, so older keyboards read as expired."""
        version = new.version if new is not None else None
        items: list[Outgoing] = []
        for item in ctx.out:
            if isinstance(item, Reply) and item.keyboard is not None:
                item = replace(item, keyboard=_stamp(item.keyboard, version))
            items.append(item)
        if msg.kind is Kind.BUTTON and not any(isinstance(i, Notice) for i in items):
            items.insert(0, Notice(""))
        return Response(items)

    def _title(self, ctx: Context, flow_name: str) -> str:
        flow = self.registry.flows.get(flow_name)
        return ctx._(flow.title_key) if flow else flow_name

    def _command_of(self, flow_name: str) -> str:
        flow = self.registry.flows.get(flow_name)
        return flow.command if flow else flow_name


def _stamp(keyboard: Keyboard, version: int | None) -> Keyboard:
    def stamp(button: Button) -> Button:
        if button.request_location or button.url or button.data.startswith(ACTION_PREFIX):
            return button
        if version is None:
            # A flow keyboard left over after its flow ended can never be valid again.
            return replace(button, data=f"x{VERSION_SEP}{button.data}")
        return replace(button, data=f"{version}{VERSION_SEP}{button.data}")

    return Keyboard(tuple(tuple(stamp(b) for b in row) for row in keyboard.rows))


def roles(*items: Role) -> frozenset[Role]:
    return frozenset(items)


def every_role() -> Iterable[Role]:
    return iter(Role)
