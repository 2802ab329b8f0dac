"""Naming an enterprise in a conversation: typed name or credit code, near matches offered.

Shared by every flow that asks "which enterprise?" (/lead, /library …) so that the same
enterprise is found, not duplicated, however the person types it. The draft keeps
``enterprise_id`` (an existing record) or ``enterprise_name`` and ``credit_code`` (a new one).

    enterprise → [enterprise_pick: a near match | enterprise_name: name for a new code] → after
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.conversation import Context, Next, Step
from bot.core import Button, Incoming, Keyboard
from services import enterprises
from services.credit_code import is_valid_credit_code, looks_like_credit_code, normalize_credit_code

MAX_NAME = 100


def clear_enterprise(draft: dict[str, Any]) -> None:
    for key in ("enterprise_id", "enterprise_name", "credit_code"):
        draft.pop(key, None)


@dataclass(frozen=True)
class EnterpriseSteps:
    """The three steps; ``after`` says where the flow goes once the enterprise is known."""

    after: Callable[[Context], Awaitable[Next]]
    ask_key: str = "lead.ask.enterprise"

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
        code = normalize_credit_code(raw)
        if not is_valid_credit_code(code):
            return ctx.again("lead.err.credit_code", code=code)
        clear_enterprise(ctx.draft)
        existing = await enterprises.by_credit_code(ctx.app.db, code)
        if existing is not None:
            ctx.draft["enterprise_id"] = existing.id
            ctx.draft["enterprise_name"] = existing.name
            ctx.say(ctx._("lead.enterprise.found", name=existing.name))
            return await self.after(ctx)
        ctx.draft["credit_code"] = code
        return ctx.goto("enterprise_name")

    async def take_name(self, ctx: Context, name: str) -> Next:
        clear_enterprise(ctx.draft)
        existing = await enterprises.by_name(ctx.app.db, name)
        if existing is not None:
            ctx.draft["enterprise_id"] = existing.id
            ctx.draft["enterprise_name"] = existing.name
            ctx.say(ctx._("lead.enterprise.found", name=existing.name))
            return await self.after(ctx)
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
        buttons.append(Button(ctx._("lead.enterprise.none_of_these", name=name), "new"))
        ctx.say(ctx._("lead.ask.enterprise_pick", name=name), Keyboard.column(buttons))

    async def on_pick(self, ctx: Context, msg: Incoming) -> Next:
        data = ctx.choice(msg)
        if data is None:
            # Typing another name instead of choosing is fine: start the lookup again.
            ctx.draft.pop("candidates", None)
            return await self.on_enterprise(ctx, msg)
        candidates = {int(eid): str(name) for eid, name in ctx.draft.get("candidates", [])}
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
        ctx.say(ctx._("lead.ask.enterprise_name", code=ctx.draft.get("credit_code", "")))

    async def on_name(self, ctx: Context, msg: Incoming) -> Next:
        answer = ctx.text_answer(msg, max_len=MAX_NAME)
        if isinstance(answer, Next):
            return answer
        code = ctx.draft.get("credit_code")
        existing = await enterprises.by_name(ctx.app.db, answer)
        if existing is not None and (not existing.credit_code or existing.credit_code == code):
            ctx.draft["enterprise_id"] = existing.id
            ctx.say(ctx._("lead.enterprise.found", name=existing.name))
        found = existing is not None and "enterprise_id" in ctx.draft
        ctx.draft["enterprise_name"] = existing.name if existing is not None and found else answer
        return await self.after(ctx)
