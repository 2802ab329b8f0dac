"""/merge (bureau) — two enterprise records that are one.

first: search → pick → second: search → pick → which survives → confirm → merged
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from models import Role
from services import enterprises, merge, search

MERGE_ROLES = frozenset({Role.BUREAU})
SHOWN = 8


async def start(ctx: Context, msg: Incoming) -> Next:
    """Ask for the first record."""
    ctx.draft["slot"] = "a"
    text = " ".join(msg.args.split())
    if text:
        return await _search(ctx, text)
    return ctx.goto("search")


async def ask_search(ctx: Context) -> None:
    key = "desk.merge.ask.first" if ctx.draft.get("slot") == "a" else "desk.merge.ask.second"
    ctx.say(ctx._(key, first=ctx.draft.get("a_name", "")))


async def on_search(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=100)
    if isinstance(answer, Next):
        return answer
    return await _search(ctx, answer)


async def _search(ctx: Context, text: str) -> Next:
    ids = await search.search_ids(ctx.app.db, text)
    ids = [i for i in ids if i != ctx.draft.get("a")][:SHOWN]
    if not ids:
        return ctx.again("desk.merge.err.none", text=text)
    rows = [await enterprises.get(ctx.app.db, i) for i in ids]
    ctx.draft["found"] = [[e.id, e.name, e.credit_code or ""] for e in rows if e is not None]
    return ctx.goto("pick")


async def ask_pick(ctx: Context) -> None:
    buttons = [
        Button(f"#{eid} {name}" + (f" {code}" if code else ""), f"e{eid}") for eid, name, code in ctx.draft["found"]
    ]
    buttons.append(Button(ctx._("desk.merge.search_again"), "again"))
    ctx.say(ctx._("desk.merge.ask.pick"), Keyboard.column(buttons))


async def on_pick(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data is None:
        return await on_search(ctx, msg)
    if data == "again":
        return ctx.goto("search")
    found = {int(eid): str(name) for eid, name, _ in ctx.draft.get("found", [])}
    if not data.startswith("e") or not data[1:].isdigit() or int(data[1:]) not in found:
        return ctx.again("core.err.use_buttons")
    chosen = int(data[1:])
    slot = ctx.draft["slot"]
    ctx.draft[slot], ctx.draft[f"{slot}_name"] = chosen, found[chosen]
    ctx.draft.pop("found", None)
    if slot == "a":
        ctx.draft["slot"] = "b"
        return ctx.goto("search")
    return ctx.goto("survivor")


async def _describe(ctx: Context, eid: int, name: str) -> str:
    count = await merge.counts(ctx.app.db, eid)
    return ctx._("desk.merge.record", id=eid, name=name, **asdict(count))


async def ask_survivor(ctx: Context) -> None:
    a, b = int(ctx.draft["a"]), int(ctx.draft["b"])
    lines = [await _describe(ctx, a, ctx.draft["a_name"]), await _describe(ctx, b, ctx.draft["b_name"])]
    buttons = [
        Button(ctx._("desk.merge.keep", name=ctx.draft["a_name"]), "a"),
        Button(ctx._("desk.merge.keep", name=ctx.draft["b_name"]), "b"),
    ]
    ctx.say(ctx._("desk.merge.ask.survivor", records="\n".join(lines)), Keyboard.column(buttons))


async def on_survivor(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data not in ("a", "b"):
        return ctx.again("core.err.use_buttons")
    ctx.draft["keep"] = data
    return ctx.goto("confirm")


def _pair(draft: dict[str, Any]) -> tuple[int, str, int, str]:
    keep = draft["keep"]
    gone = "b" if keep == "a" else "a"
    return int(draft[keep]), str(draft[f"{keep}_name"]), int(draft[gone]), str(draft[f"{gone}_name"])


async def ask_confirm(ctx: Context) -> None:
    keep_id, keep_name, gone_id, gone_name = _pair(ctx.draft)
    buttons = [Button(ctx._("desk.merge.do"), "merge"), Button(ctx._("desk.merge.cancel"), "cancel")]
    ctx.say(
        ctx._("desk.merge.ask.confirm", keep=keep_name, keep_id=keep_id, gone=gone_name, gone_id=gone_id),
        Keyboard.column(buttons),
    )


async def on_confirm(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "cancel":
        ctx.say(ctx._("desk.merge.cancelled"))
        return ctx.done()
    if data != "merge":
        return ctx.again("core.err.use_buttons")
    keep_id, keep_name, gone_id, gone_name = _pair(ctx.draft)
    try:
        await merge.merge(ctx.app.db, actor=ctx.user, survivor_id=keep_id, other_id=gone_id, now=ctx.now())
    except merge.MergeError as error:
        ctx.say(ctx._(f"desk.merge.err.{error.code}"))
        return ctx.done()
    count = await merge.counts(ctx.app.db, keep_id)
    ctx.say(ctx._("desk.merge.done", keep=keep_name, gone=gone_name, **asdict(count)))
    return ctx.done()


def describe(draft: dict[str, Any]) -> str:
    return " / ".join(str(draft[k]) for k in ("a_name", "b_name") if k in draft)


MERGE = Flow(
    name="merge",
    command="merge",
    roles=MERGE_ROLES,
    start=start,
    title_key="flow.merge",
    describe=describe,
    steps={
        "search": Step(ask_search, on_search),
        "pick": Step(ask_pick, on_pick),
        "survivor": Step(ask_survivor, on_survivor),
        "confirm": Step(ask_confirm, on_confirm),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(MERGE)
