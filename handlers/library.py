"""/library — a chain lead department keeps its chains' target-enterprise libraries (§3).

[chain] → menu (the list with coverage) → add: enterprise … → menu
                                        → tag: which → toggle tags → menu
                                        → remove: which → why → menu
"""

from __future__ import annotations

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from handlers.lookup import EnterpriseLookup, clear_enterprise
from models import EnterpriseTag, Role
from services import enterprises, library
from services.library import LibraryRow

LIBRARY_ROLES = frozenset({Role.CHAIN_LEAD, Role.BUREAU})
MAX_REASON = 300
MAX_BUTTONS = 40
MAX_LISTED = 60
TAGS = tuple(EnterpriseTag)


def tag_names(ctx: Context, tags: tuple[str, ...] | list[str]) -> str:
    return "、".join(ctx._(f"tag.{t}") for t in tags if t in {x.value for x in TAGS})


async def start(ctx: Context, msg: Incoming) -> Next:
    """Open the library: straight to the chain when the person keeps only one."""
    chains = await library.chains_for(ctx.app.db, ctx.user)
    if not chains:
        ctx.say(ctx._("desk.library.no_chains"))
        return ctx.done()
    if len(chains) == 1:
        ctx.draft["chain_id"] = chains[0].id
        return ctx.goto("menu")
    return ctx.goto("chain")


async def ask_chain(ctx: Context) -> None:
    chains = await library.chains_for(ctx.app.db, ctx.user)
    buttons = [Button(f"{c.family} {c.name(ctx.locale)}", f"c{c.id}") for c in chains]
    ctx.say(ctx._("desk.library.ask.chain"), Keyboard.grid(buttons, width=2))


async def on_chain(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("c") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    if not await library.may_keep(ctx.app.db, ctx.user, int(data[1:])):
        return ctx.again("core.err.use_buttons")
    ctx.draft["chain_id"] = int(data[1:])
    return ctx.goto("menu")


def _line(ctx: Context, number: int, row: LibraryRow) -> str:
    tags = tag_names(ctx, row.tags)
    return ctx._(
        "desk.library.row",
        number=number,
        name=row.name,
        tags=f" [{tags}]" if tags else "",
        coverage=ctx._(f"coverage.{row.coverage.value}"),
    )


async def _rows(ctx: Context) -> list[LibraryRow]:
    return await library.entries(ctx.app.db, int(ctx.draft["chain_id"]))


async def ask_menu(ctx: Context) -> None:
    chain_id = int(ctx.draft["chain_id"])
    chain = await enterprises.get_chain(ctx.app.db, chain_id)
    rows = await _rows(ctx)
    wanted = await library.minimum(ctx.app.db, chain_id)
    name = chain.name(ctx.locale) if chain else str(chain_id)
    lines = [ctx._("desk.library.header", chain=name, count=len(rows))]
    lines += [_line(ctx, i, row) for i, row in enumerate(rows[:MAX_LISTED], 1)]
    if len(rows) > MAX_LISTED:
        # A Telegram message holds 4096 characters; the whole library is one /export away.
        lines.append(ctx._("desk.library.more", count=len(rows) - MAX_LISTED))
    if not rows:
        lines.append(ctx._("desk.library.empty"))
    counts = {c: sum(1 for r in rows if r.coverage is c) for c in library.Coverage}
    if rows:
        lines.append(
            ctx._(
                "desk.library.coverage",
                **{c.value: counts[c] for c in library.Coverage},
            )
        )
    if len(rows) < wanted:
        lines.append(ctx._("desk.library.below_minimum", count=len(rows), minimum=wanted, missing=wanted - len(rows)))
    buttons = [Button(ctx._("desk.library.add"), "add")]
    if rows:
        buttons += [Button(ctx._("desk.library.tag"), "tag"), Button(ctx._("desk.library.remove"), "remove")]
    if len(await library.chains_for(ctx.app.db, ctx.user)) > 1:
        buttons.append(Button(ctx._("desk.library.other_chain"), "chain"))
    buttons.append(Button(ctx._("desk.library.close"), "close"))
    ctx.say("\n".join(lines), Keyboard.grid(buttons, width=3))


async def on_menu(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "add":
        clear_enterprise(ctx.draft)
        return ctx.goto("enterprise")
    if data in ("tag", "remove"):
        ctx.draft["doing"] = data
        return ctx.goto("pick")
    if data == "chain":
        return ctx.goto("chain")
    if data == "close":
        ctx.say(ctx._("desk.library.closed"))
        return ctx.done()
    return ctx.again("core.err.use_buttons")


# -- add --------------------------------------------------------------------------------
async def _after_enterprise(ctx: Context) -> Next:
    """Add the enterprise the person named, then show the library again."""
    chain_id = int(ctx.draft["chain_id"])
    enterprise, added = await library.add(
        ctx.app.db,
        member=ctx.user,
        chain_id=chain_id,
        enterprise_id=ctx.draft.get("enterprise_id"),
        name=str(ctx.draft.get("enterprise_name", "")),
        credit_code=ctx.draft.get("credit_code"),
        now=ctx.now(),
    )
    clear_enterprise(ctx.draft)
    ctx.say(ctx._("desk.library.added" if added else "desk.library.already", name=enterprise.name))
    return ctx.goto("menu")


ENTERPRISE = EnterpriseLookup("desk.library.ask.enterprise", after=_after_enterprise)


# -- pick one (to tag or remove) --------------------------------------------------------
async def ask_pick(ctx: Context) -> None:
    rows = await _rows(ctx)
    buttons = [Button(f"{i}. {row.name}", f"n{i}") for i, row in enumerate(rows[:MAX_BUTTONS], 1)]
    buttons.append(Button(ctx._("desk.library.back"), "back"))
    key = "desk.library.ask.tag_which" if ctx.draft.get("doing") == "tag" else "desk.library.ask.remove_which"
    ctx.say(ctx._(key), Keyboard.grid(buttons, width=2))


async def on_pick(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "back":
        return ctx.goto("menu")
    typed = data[1:] if data and data.startswith("n") else msg.text.strip().lstrip("#")
    rows = await _rows(ctx)
    if not typed.isdigit() or not 1 <= int(typed) <= len(rows):
        return ctx.again("desk.library.err.number", count=len(rows))
    row = rows[int(typed) - 1]
    ctx.draft["entry_id"] = row.entry_id
    ctx.draft["picked_id"] = row.enterprise_id
    ctx.draft["picked_name"] = row.name
    if ctx.draft.get("doing") == "tag":
        ctx.draft["tags"] = list(row.tags)
        return ctx.goto("tags")
    return ctx.goto("reason")


async def ask_tags(ctx: Context) -> None:
    chosen = set(ctx.draft.get("tags", []))
    buttons = [Button(("\u2713 " if t.value in chosen else "") + ctx._(f"tag.{t.value}"), f"t{t.value}") for t in TAGS]
    buttons.append(Button(ctx._("desk.library.tags_done"), "done"))
    ctx.say(ctx._("desk.library.ask.tags", name=ctx.draft.get("picked_name", "")), Keyboard.grid(buttons, width=2))


async def on_tags(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    chosen: list[str] = list(ctx.draft.get("tags", []))
    if data.startswith("t") and data[1:] in {t.value for t in TAGS}:
        tag = data[1:]
        ctx.draft["tags"] = [t for t in chosen if t != tag] if tag in chosen else [*chosen, tag]
        return ctx.goto("tags")
    if data == "done":
        tags = await library.set_tags(
            ctx.app.db, member=ctx.user, enterprise_id=int(ctx.draft["picked_id"]), tags=chosen, now=ctx.now()
        )
        ctx.say(
            ctx._(
                "desk.library.tagged",
                name=ctx.draft.get("picked_name", ""),
                tags=tag_names(ctx, tags) or ctx._("desk.library.no_tags"),
            )
        )
        return ctx.goto("menu")
    return ctx.again("core.err.use_buttons")


async def ask_reason(ctx: Context) -> None:
    ctx.say(ctx._("desk.library.ask.reason", name=ctx.draft.get("picked_name", "")))


async def on_reason(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    entry = await library.remove(
        ctx.app.db, member=ctx.user, entry_id=int(ctx.draft["entry_id"]), reason=answer, now=ctx.now()
    )
    if entry is not None:
        ctx.say(ctx._("desk.library.removed", name=ctx.draft.get("picked_name", ""), reason=answer))
    return ctx.goto("menu")


def describe(draft: dict[str, object]) -> str:
    return str(draft.get("enterprise_name", ""))


LIBRARY = Flow(
    name="library",
    command="library",
    roles=LIBRARY_ROLES,
    start=start,
    title_key="flow.library",
    describe=describe,
    steps={
        "chain": Step(ask_chain, on_chain),
        "menu": Step(ask_menu, on_menu),
        **ENTERPRISE.steps(),
        "pick": Step(ask_pick, on_pick),
        "tags": Step(ask_tags, on_tags),
        "reason": Step(ask_reason, on_reason),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(LIBRARY)
