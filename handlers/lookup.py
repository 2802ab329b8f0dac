"""The enterprise steps every record starts with: a typed name or credit code, found or new.

    enterprise → [pick a near match | name for a new credit code] → the flow goes on

A flow takes these steps with :meth:`EnterpriseLookup.steps` and says where to go once the
enterprise is known. The draft gets ``enterprise_id`` (an existing record) or
``enterprise_name`` / ``credit_code`` (a new one, created when the record is saved).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Next, Step
from models import Enterprise
from services import enterprises
from services.credit_code import is_valid_credit_code, looks_like_credit_code, normalize_credit_code
from services.names import has_letters

MAX_NAME = 100
ENTERPRISE_KEYS = ("enterprise_id", "enterprise_name", "credit_code")


def clear_enterprise(draft: dict[str, Any]) -> None:
    for key in ENTERPRISE_KEYS:
        draft.pop(key, None)


@dataclass(frozen=True)
class EnterpriseLookup:
    ask_key: str  # the flow's own question ("which enterprise did you visit?")
    after: Callable[[Context], Awaitable[Next]]  # where the flow goes once the enterprise is known

    def steps(self) -> dict[str, Step]:
        return {
            "enterprise": Step(self.ask_enterprise, self.on_enterprise),
            "enterprise_pick": Step(self.ask_pick, self.on_pick),
            "enterprise_name": Step(self.ask_name, self.on_name),
        }

    async def ask_enterprise(self, ctx: Context) -> None:
        ctx.say(ctx._(self.ask_key))

    async def on_enterprise(self, ctx: Context, msg: Incoming) -> Next:
        answer = ctx.text_answer(msg, max_len=MAX_NAME)
        if isinstance(answer, Next):
            return answer
        if looks_like_credit_code(answer) or (len(answer) == 18 and answer.isalnum() and answer.isascii()):
            return await self.take_code(ctx, answer)
        return await self.take_name(ctx, answer)

    async def take_code(self, ctx: Context, raw: str) -> Next:
        """A credit code: the enterprise that has it, or ask the new one's name."""
        code = normalize_credit_code(raw)
        if not is_valid_credit_code(code):
            return ctx.again("lookup.err.credit_code", code=code)
        clear_enterprise(ctx.draft)
        existing = await enterprises.by_credit_code(ctx.app.db, code)
        if existing is not None:
            return await self.found(ctx, existing)
        ctx.draft["credit_code"] = code
        return ctx.goto("enterprise_name")

    async def found(self, ctx: Context, existing: Enterprise) -> Next:
        """The enterprise is in the register already: say so and go on."""
        ctx.draft["enterprise_id"] = existing.id
        ctx.draft["enterprise_name"] = existing.name
        ctx.note(ctx._("lookup.found", name=existing.name))
        return await self.after(ctx)

    async def take_name(self, ctx: Context, name: str) -> Next:
        """A name: the enterprise of that normalized name, near matches to pick from, or a new one."""
        if not has_letters(name):
            return ctx.again("lookup.err.no_letters", name=name)
        clear_enterprise(ctx.draft)
        existing = await enterprises.by_name(ctx.app.db, name)
        if existing is not None:
            return await self.found(ctx, existing)
        ctx.draft["enterprise_name"] = name
        candidates = await enterprises.similar(ctx.app.db, name)
        if candidates:
            ctx.draft["candidates"] = [[c.id, c.name] for c in candidates]
            return ctx.goto("enterprise_pick")
        return await self.after(ctx)

    async def ask_pick(self, ctx: Context) -> None:
        candidates = ctx.draft.get("candidates", [])
        name = ctx.draft.get("enterprise_name", "")
        buttons = [Button(str(label), f"e{eid}") for eid, label in candidates]
        buttons.append(Button(ctx._("lookup.none_of_these", name=name), "new"))
        ctx.say(ctx._("lookup.ask_pick", name=name), Keyboard.column(buttons))

    async def on_pick(self, ctx: Context, msg: Incoming) -> Next:
        data = ctx.choice(msg)
        if data is None:
            # Typing another name instead of choosing is fine: start the lookup again.
            ctx.draft.pop("candidates", None)
            return await self.on_enterprise(ctx, msg)
        candidates = {int(eid): str(label) for eid, label in ctx.draft.get("candidates", [])}
        if data == "new":
            ctx.draft.pop("candidates", None)
            return await self.after(ctx)
        if data.startswith("e") and data[1:].isdigit() and int(data[1:]) in candidates:
            chosen = int(data[1:])
            ctx.draft.pop("candidates", None)
            ctx.draft["enterprise_id"] = chosen
            ctx.draft["enterprise_name"] = candidates[chosen]
            ctx.draft.pop("credit_code", None)
            return await self.after(ctx)
        return ctx.again("core.err.use_buttons")

    async def ask_name(self, ctx: Context) -> None:
        ctx.say(ctx._("lookup.ask_name", code=ctx.draft.get("credit_code", "")))

    async def on_name(self, ctx: Context, msg: Incoming) -> Next:
        answer = ctx.text_answer(msg, max_len=MAX_NAME)
        if isinstance(answer, Next):
            return answer
        if not has_letters(answer):
            return ctx.again("lookup.err.no_letters", name=answer)
        code = ctx.draft.get("credit_code")
        existing = await enterprises.by_name(ctx.app.db, answer)
        if existing is not None and (not existing.credit_code or existing.credit_code == code):
            ctx.draft["enterprise_id"] = existing.id
            ctx.note(ctx._("lookup.found", name=existing.name))
        found = existing is not None and "enterprise_id" in ctx.draft
        ctx.draft["enterprise_name"] = existing.name if existing is not None and found else answer
        return await self.after(ctx)


def enterprise_label(ctx: Context, draft: Mapping[str, object], new_key: str) -> str:
    """The enterprise as a summary shows it; ``new_key`` marks one the save will create."""
    name = str(draft.get("enterprise_name", ""))
    code = draft.get("credit_code")
    if code:
        name = f"{name} ({code})"
    if "enterprise_id" not in draft:
        name = ctx._(new_key, name=name)
    return name
