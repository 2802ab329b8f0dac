"""From an incoming event to the replies: who is this, may they, which conversation.

Each update is one unit of work (``Database.unit``): the update id is claimed, the person
and their conversation are read, the handler runs and writes its records, the new state is
saved, and — when this router feeds Telegram — every reply is put in the delivery queue;
then it all commits once. A crash before that commit leaves no trace, so a redelivered
update is handled afresh; a handler's failure rolls it all back and queues one apology.

Dispatch only lives here. The flows, commands and actions are the :class:`Registry`'s
(``bot.core.registry``); where each person stands is the :class:`ConversationStore`'s
(``bot.store``); offering a set-aside draft back is a step every flow has built in
(:data:`RESUME_STEP`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Any
from weakref import WeakValueDictionary

from sqlalchemy import Executable, bindparam
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import App
from bot.core import PRIVATE, Button, Incoming, Keyboard, Kind, Notice, Outgoing, Reply, Response
from bot.core.conversation import ACTION_PREFIX, Context, Flow, Next, Step
from bot.core.db import is_unavailable
from bot.core.i18n import normalize_locale, translate
from bot.core.registry import Registry, allowed, every_role, roles
from bot.delivery import REPLY
from bot.store import ConversationStore, State
from models import Member, ProcessedUpdate, utcnow
from services import members
from services.text import clean_text

__all__ = ["RESUME_STEP", "Registry", "Router", "every_role", "preview", "roles"]

log = logging.getLogger(__name__)

# The step a flow is in while it offers a draft that was set aside: continue it or start afresh.
RESUME_STEP = "_resume"
VERSION_SEP = "|"


@dataclass
class _Trace:
    """What the log line of an update says about the conversation it touched."""

    conversation: str | None = None
    step: str | None = None

    def at(self, state: State | None, flow: str | None = None) -> None:
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


class Router:
    def __init__(self, app: App, registry: Registry, *, queue_replies: bool = False) -> None:
        self.app = app
        self.registry = registry
        self.store = ConversationStore(app.db, clock=app.now)
        # Telegram's replies leave through the delivery queue, in the update's transaction;
        # the console and the conversation tests carry out the returned response themselves.
        self.queue_replies = queue_replies
        self._resume = Step(ask=self._offer_resume, handle=self._resume_choice, documents=True)
        # One person's messages are handled in order; different people in parallel.
        self._locks: WeakValueDictionary[tuple[int, int], asyncio.Lock] = WeakValueDictionary()

    # -- entry point ----------------------------------------------------------------
    async def handle(self, msg: Incoming) -> Response:
        key = (msg.chat_id, msg.user_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        # Hidden characters (controls, bidi overrides, zero-width) never reach a handler.
        msg = replace(msg, text=clean_text(msg.text), args=clean_text(msg.args), full_name=clean_text(msg.full_name))
        async with lock:
            started = time.perf_counter()
            outcome = "ok"
            trace = _Trace()
            try:
                async with self.app.db.unit() as unit:
                    response = await self._handle(msg, trace)
                    await self._queue(msg, response)
                    # Claimed last, so that on SQLite the transaction (and its write lock)
                    # starts as late as it can. A redelivery or a twin handled meanwhile is
                    # found here and rolled back whole: a statement fewer for every update
                    # that is not one, and a redelivery is rare.
                    if msg.update_id is not None and not await _claim(unit.session, msg.update_id):
                        raise _Redelivered
                return response
            except _Redelivered:
                outcome = "duplicate"
                log.info("update %s already handled; ignoring the redelivery", msg.update_id)
                return Response(queued=True)
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
                return await self._failure(msg, kept=trace.conversation is not None and trace.step != RESUME_STEP)
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

    async def _queue(self, msg: Incoming, response: Response) -> None:
        """Put the replies in the delivery queue, inside the update's transaction."""
        if not self.queue_replies:
            return
        items: list[Outgoing] = []
        for item in response.items:
            if isinstance(item, Notice):
                continue  # the answer to the press itself: the adapter gives it at once
            if isinstance(item, Reply) and item.edit:
                editable = msg.kind is Kind.BUTTON and msg.message_id is not None
                item = replace(item, message_id=msg.message_id) if editable else replace(item, edit=False)
            items.append(item)
        if items:
            await self.app.outbox.enqueue(msg.chat_id, items, kind=REPLY, answer=True)
        response.queued = True

    async def _failure(self, msg: Incoming, *, kept: bool) -> Response:
        """One apology, queued with the update's claim so that a redelivery does not fail again;
        it mentions what was filled in only when a conversation was under way."""
        locale = normalize_locale(msg.language_code, self.app.settings.default_locale)
        text = translate(locale, "core.error" if kept else "core.error.nothing_kept")
        items: list[Outgoing] = [Notice(text)] if msg.kind is Kind.BUTTON else []
        response = Response([*items, Reply(text)])
        if not self.queue_replies:
            return response
        try:
            async with self.app.db.unit() as unit:
                if msg.update_id is None or await _claim(unit.session, msg.update_id):
                    await self._queue(msg, response)
        except Exception:
            log.exception("update %s: the apology could not be queued", msg.update_id)
        return response

    def _unavailable(self, msg: Incoming) -> Response:
        """Say "try again shortly" without the database (which is what failed)."""
        locale = normalize_locale(msg.language_code, self.app.settings.default_locale)
        items: list[Outgoing] = []
        if msg.kind is Kind.BUTTON:
            items.append(Notice(translate(locale, "ops.db_unavailable.short")))
        items.append(Reply(translate(locale, "ops.db_unavailable")))
        return Response(items)

    def _group(self, msg: Incoming) -> Response:
        locale = normalize_locale(msg.language_code, self.app.settings.default_locale)
        items: list[Outgoing] = []
        if msg.kind is Kind.BUTTON:
            items.append(Notice(translate(locale, "core.private_only.short")))
        elif msg.kind is Kind.COMMAND:
            items.append(Reply(translate(locale, "core.private_only")))
        return Response(items)

    async def _handle(self, msg: Incoming, trace: _Trace) -> Response:
        if msg.chat_type != PRIVATE:
            # Records are not for a group's eyes: the bot works in private chats only.
            return self._group(msg)
        member = await members.load_member(
            self.app.db,
            msg.user_id,
            admin_ids=self.app.settings.bot_admin_ids,
            full_name=msg.full_name,
            username=msg.username,
            language_code=msg.language_code,
        )
        locale = self.locale_for(member, msg.language_code)
        state = await self.store.load(msg.chat_id, msg.user_id)
        ctx = Context(self.app, msg, member, locale)
        trace.at(state)

        if member is None:
            await self._unregistered(ctx, msg)
            return self._finish(ctx, msg, state)

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
        elif msg.kind is Kind.TEXT and self.registry.texts and allowed(self.registry.texts.roles, member):
            await self.registry.texts.run(ctx, msg)
            new_state = await self._begin(ctx, msg, None)
        elif state is None and (outside := self.registry.outside.get(msg.kind)) and allowed(outside.roles, member):
            await outside.run(ctx, msg)
            new_state = await self._begin(ctx, msg, state)
        else:
            ctx.say(ctx._("core.idle"))
            new_state = None
        started = self.registry.flow_for_command(msg.command) if msg.kind is Kind.COMMAND else None
        trace.at(new_state or state, started.name if started else None)
        await self.store.save(msg.chat_id, msg.user_id, state, new_state)
        return self._finish(ctx, msg, new_state)

    def _step(self, flow: Flow | None, name: str) -> Step | None:
        if flow is None:
            return None
        return self._resume if name == RESUME_STEP else flow.steps.get(name)

    def _document_elsewhere(self, msg: Incoming, state: State, member: Member) -> bool:
        """A file the current step does not take, from someone the document handler serves."""
        if msg.kind is not Kind.DOCUMENT:
            return False
        documents = self.registry.documents
        if documents is None or not allowed(documents.roles, member):
            return False
        step = self._step(self.registry.flows.get(state.flow), state.step)
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
    async def _command(self, ctx: Context, msg: Incoming, state: State | None) -> State | None:
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
        if not allowed(command.roles, ctx.member, command.admin):
            ctx.say(ctx._("core.not_allowed", command=name))
            return state
        flow = self.registry.flow_for_command(name)
        if flow is None:
            await command.run(ctx, msg)
            if state is not None and state.step != RESUME_STEP:
                ctx.say(ctx._("core.still_in_flow", what=self._title(ctx, state.flow)))
            return state
        await self._set_aside(ctx, msg, state)
        if await self.store.parked(msg.chat_id, msg.user_id, flow.name) is not None:
            ctx.flow, ctx.draft = flow.name, {}
            return await self._apply(ctx, flow, Next.to(RESUME_STEP), None, state)
        return await self._start(ctx, flow, msg, state)

    async def _set_aside(self, ctx: Context, msg: Incoming, state: State | None) -> None:
        """A command always wins over a half-finished conversation: park it, resumable.

        An offer to resume holds no draft of its own: the one it offers stays parked.
        """
        if state is not None and state.step != RESUME_STEP:
            await self.store.park(msg.chat_id, msg.user_id, state)
            ctx.say(ctx._("core.parked", what=self._title(ctx, state.flow), command=self._command_of(state.flow)))

    async def _start(
        self, ctx: Context, flow: Flow, msg: Incoming, old: State | None, draft: dict[str, Any] | None = None
    ) -> State | None:
        ctx.flow, ctx.draft = flow.name, dict(draft or {})
        nxt = await flow.start(ctx, msg)
        return await self._apply(ctx, flow, nxt, None, old)

    # -- the built-in resume step -------------------------------------------------------
    async def _offer_resume(self, ctx: Context) -> None:
        flow = self.registry.flows[str(ctx.flow)]
        parked = await self.store.parked(ctx.incoming.chat_id, ctx.incoming.user_id, flow.name)
        if parked is None:
            ctx.say(ctx._("core.resume.choose"))
            return
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

    async def _resume_choice(self, ctx: Context, msg: Incoming) -> Next:
        choice = ctx.choice(msg)
        if choice not in ("resume", "fresh"):
            ctx.say(ctx._("core.resume.choose"))
            return ctx.stay()
        flow = self.registry.flows[str(ctx.flow)]
        parked = await self.store.parked(msg.chat_id, msg.user_id, flow.name)
        await self.store.unpark(msg.chat_id, msg.user_id, flow.name)
        if choice == "resume" and parked is not None and parked.step in flow.steps:
            ctx.step, ctx.draft = parked.step, dict(parked.draft)
            return Next.to(parked.step)
        ctx.draft = {}
        return await flow.start(ctx, msg)

    # -- buttons ------------------------------------------------------------------------
    async def _action(self, ctx: Context, msg: Incoming, state: State | None) -> State | None:
        prefix, _, arg = msg.data[len(ACTION_PREFIX) :].partition(":")
        action = self.registry.actions.get(prefix)
        if action is None or not allowed(action.roles, ctx.member, action.admin):
            ctx.notice(ctx._("core.expired"))
            return state
        await action.run(ctx, msg, arg)
        return await self._begin(ctx, msg, state)

    async def _begin(self, ctx: Context, msg: Incoming, state: State | None) -> State | None:
        """Open the flow a handler asked for with ``Context.start_flow``, if it did."""
        if ctx.begin is None:
            return state
        name, draft = ctx.begin
        flow = self.registry.flows.get(name)
        if flow is None or not allowed(flow.roles, ctx.member, flow.admin):
            ctx.say(ctx._("core.not_allowed", command=flow.command if flow else name))
            return state
        # Like a command: whatever the person was in is parked, and the new flow starts
        # with the draft the action prepared (a parked draft of the same flow stays parked).
        await self._set_aside(ctx, msg, state)
        return await self._start(ctx, flow, msg, state, draft)

    async def _press(self, ctx: Context, msg: Incoming, state: State | None) -> State | None:
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
        return await self._answer(ctx, pressed, state)

    # -- answers within a flow ----------------------------------------------------------
    async def _answer(self, ctx: Context, msg: Incoming, state: State) -> State | None:
        flow = self.registry.flows.get(state.flow)
        step = self._step(flow, state.step)
        if flow is None or step is None:
            log.warning("dropping state of unknown flow/step %s/%s", state.flow, state.step)
            ctx.say(ctx._("core.idle"))
            return None
        if not allowed(flow.roles, ctx.member, flow.admin):
            return None
        ctx.flow, ctx.step, ctx.draft = state.flow, state.step, dict(state.draft)
        nxt = await step.handle(ctx, msg)
        return await self._apply(ctx, flow, nxt, state, state)

    async def _apply(
        self, ctx: Context, flow: Flow, nxt: Next, current: State | None, old: State | None
    ) -> State | None:
        """Carry out a step's verdict: ask the next question, ask again, or finish."""
        version = (old.version if old else 0) + 1
        if nxt.done:
            return None
        if nxt.error is not None:
            ctx.say(nxt.error)
            if current is None:
                return old
            step = self._step(flow, current.step)
            assert step is not None
            await step.ask(ctx)
            return State(flow.name, current.step, ctx.draft, version)
        if nxt.stay:
            if current is None:
                return old
            return State(flow.name, current.step, ctx.draft, version)
        assert nxt.goto is not None
        step = self._step(flow, nxt.goto)
        assert step is not None, f"{flow.name} has no step {nxt.goto}"
        ctx.step = nxt.goto
        await step.ask(ctx)
        return State(flow.name, nxt.goto, ctx.draft, version)

    # -- coming back ------------------------------------------------------------------
    async def current_step(self, chat_id: int, user_id: int) -> tuple[str, str] | None:
        """Which flow and step a person is in (the console shows it after a restart)."""
        state = await self.store.load(chat_id, user_id)
        return (state.flow, state.step) if state else None

    async def parked_flows(self, chat_id: int, user_id: int) -> list[str]:
        return await self.store.parked_flows(chat_id, user_id)

    async def ask_again(self, chat_id: int, user_id: int, language_code: str | None = None) -> Response:
        """Repeat the current question, e.g. when a person comes back after a restart."""
        msg = Incoming(Kind.TEXT, chat_id, user_id, language_code=language_code)
        member = await members.load_member(self.app.db, user_id, admin_ids=self.app.settings.bot_admin_ids)
        state = await self.store.load(chat_id, user_id)
        ctx = Context(self.app, msg, member, self.locale_for(member, language_code))
        if state is None or member is None:
            return Response()
        flow = self.registry.flows.get(state.flow)
        step = self._step(flow, state.step)
        if step is None:
            return Response()
        ctx.flow, ctx.step, ctx.draft = state.flow, state.step, dict(state.draft)
        if state.step != RESUME_STEP:
            ctx.say(ctx._("core.resumed_after_restart", what=self._title(ctx, state.flow)))
        await step.ask(ctx)
        # Keyboards of the repeated question must be pressable: they carry the saved version.
        return self._finish(ctx, msg, state)

    # -- output -------------------------------------------------------------------------
    def _finish(self, ctx: Context, msg: Incoming, state: State | None) -> Response:
        """Stamp flow keyboards with the state version, so older keyboards read as expired."""
        version = state.version if state is not None else None
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


class _Redelivered(Exception):
    """The update was handled before (Telegram sent it again, or to two processes)."""


async def _claim(session: AsyncSession, update_id: int) -> bool:
    """Mark the update as handled, in the update's own transaction; ``False`` if it was."""
    connection = await session.connection()
    statement = _claim_statement(connection.dialect.name)
    result = await connection.execute(statement, {"update_id": update_id, "at": utcnow()})
    return bool(result.rowcount == 1)


_CLAIM: dict[str, Executable] = {}


def _claim_statement(dialect: str) -> Executable:
    # Built for the database in use only: a bot on SQLite never loads PostgreSQL's dialect (2 MB).
    if dialect not in _CLAIM:
        module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
        _CLAIM[dialect] = (
            module.insert(ProcessedUpdate)
            .values(update_id=bindparam("update_id"), at=bindparam("at"))
            .on_conflict_do_nothing(index_elements=["update_id"])
        )
    return _CLAIM[dialect]


def _stamp(keyboard: Keyboard, version: int | None) -> Keyboard:
    def stamp(button: Button) -> Button:
        if button.request_location or button.url or button.data.startswith(ACTION_PREFIX):
            return button
        if version is None:
            # A flow keyboard left over after its flow ended can never be valid again.
            return replace(button, data=f"x{VERSION_SEP}{button.data}")
        return replace(button, data=f"{version}{VERSION_SEP}{button.data}")

    return Keyboard(tuple(tuple(stamp(b) for b in row) for row in keyboard.rows))
