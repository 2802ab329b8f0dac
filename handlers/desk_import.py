"""Spreadsheets in: a chain lead or the bureau sends an .xlsx; the bot checks it and shows a
preview (new, matched, rejected with the reason per row); it imports on confirmation.

``/template`` sends the empty spreadsheet with its columns explained.
"""

from __future__ import annotations

import logging

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Action, Command, Context, DocumentHandler, action_data
from bot.core.registry import Registry
from models import Role
from services import enterprises, imports, library
from services.imports import Checked, Row, SheetError
from services.money import format_money

log = logging.getLogger(__name__)

IMPORT_ROLES = frozenset({Role.CHAIN_LEAD, Role.BUREAU})
SHOWN_PER_PART = 15
# Beyond this many rejected rows the reasons come as a spreadsheet too.
REJECTS_AS_FILE = 10


def _bad_file(ctx: Context, error: SheetError) -> str:
    params = dict(error.params)
    if "missing" in params:
        missing = params["missing"]
        assert isinstance(missing, list)
        params["missing"] = "、".join(ctx._(f"desk.col.{key}") for key in missing)
    return ctx._(error.key, **params)


async def on_document(ctx: Context, msg: Incoming) -> None:
    """Check a spreadsheet and show what importing it would do."""
    file = msg.file
    if file is None:
        return
    if file.size is not None and file.size > imports.MAX_BYTES:
        ctx.say(_bad_file(ctx, SheetError("too_big", limit=imports.MAX_BYTES // (1024 * 1024))))
        return
    try:
        content = await ctx.app.download(file.file_id)
    except Exception as exc:
        # Telegram refuses files over its limit ("file is too big") even when the size was not given.
        if "too big" in str(exc).lower():
            ctx.say(_bad_file(ctx, SheetError("too_big", limit=imports.MAX_BYTES // (1024 * 1024))))
        else:
            log.warning("could not download file %s: %s", file.file_id, type(exc).__name__)
            ctx.say(ctx._("desk.import.download_failed"))
        return
    try:
        checked = await imports.check(ctx.app.db, ctx.user, content)
    except SheetError as error:
        ctx.say(_bad_file(ctx, error))
        return
    name = file.file_name or "upload.xlsx"
    ctx.say(await _preview(ctx, name, checked))
    rejected = checked.rejected
    if len(rejected) > REJECTS_AS_FILE:
        ctx.send_file(
            ctx._("desk.import.rejects_file"),
            imports.rejects_sheet(ctx.locale, rejected),
            ctx._("desk.import.rejects_caption", count=len(rejected)),
        )
    good = len(checked.new) + len(checked.matched)
    if not good:
        ctx.say(ctx._("desk.import.nothing"))
        return
    batch = await imports.hold(ctx.app.db, ctx.user, name, checked, now=ctx.now())
    ctx.say(
        ctx._("desk.import.ask_confirm", count=good),
        Keyboard.column(
            [
                Button(ctx._("desk.import.confirm"), action_data("imp", f"ok{batch}")),
                Button(ctx._("desk.import.cancel"), action_data("imp", f"no{batch}")),
            ]
        ),
    )


async def _chain_names(ctx: Context) -> dict[int, str]:
    return {int(c.id or 0): c.name(ctx.locale) for c in await enterprises.chains(ctx.app.db)}


def _row_line(ctx: Context, row: Row, chains: dict[int, str]) -> str:
    extra = ""
    if row.expected_yuan:
        extra = " · " + format_money(row.expected_yuan, ctx.locale)
    chain = chains.get(row.chain_id or 0, "")
    if row.match_id is None:
        return ctx._("desk.import.line.new", line=row.line, name=row.name, chain=chain, extra=extra)
    how = ctx._(f"desk.import.how.{row.match_how}")
    if row.in_library:
        how += ctx._("desk.import.how.in_library")
    return ctx._(
        "desk.import.line.matched",
        line=row.line,
        name=row.name,
        match=row.match_name,
        how=how,
        chain=chain,
        extra=extra,
    )


def _part(ctx: Context, title: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    shown = lines[:SHOWN_PER_PART]
    if len(lines) > SHOWN_PER_PART:
        shown.append(ctx._("desk.import.more", count=len(lines) - SHOWN_PER_PART))
    return ["", title, *shown]


async def _preview(ctx: Context, name: str, checked: Checked) -> str:
    chains = await _chain_names(ctx)
    new, matched, rejected = checked.new, checked.matched, checked.rejected
    text = [
        ctx._(
            "desk.import.summary",
            file=name,
            rows=len(checked.rows),
            blank=checked.blank,
            new=len(new),
            matched=len(matched),
            rejected=len(rejected),
        )
    ]
    text += _part(ctx, ctx._("desk.import.part.new"), [_row_line(ctx, r, chains) for r in new])
    text += _part(ctx, ctx._("desk.import.part.matched"), [_row_line(ctx, r, chains) for r in matched])
    text += _part(
        ctx,
        ctx._("desk.import.part.rejected"),
        [
            ctx._(
                "desk.import.line.rejected", line=r.line, name=r.name or "—", reason=imports.reason_text(ctx.locale, r)
            )
            for r in rejected
        ],
    )
    if checked.formulas:
        text += ["", ctx._("desk.import.formulas", count=checked.formulas)]
    return "\n".join(text)


async def on_answer(ctx: Context, msg: Incoming, arg: str) -> None:
    """Import the held rows, or drop them."""
    verb, number = arg[:2], arg[2:]
    if verb not in ("ok", "no") or not number.isdigit():
        ctx.notice(ctx._("core.expired"))
        return
    if msg.message_text:
        ctx.edit(f"{msg.message_text}\n\u2192 {msg.text}")
    if verb == "no":
        done = await imports.cancel(ctx.app.db, ctx.user, int(number), now=ctx.now())
        ctx.say(ctx._("desk.import.cancelled" if done else "desk.import.gone"))
        return
    try:
        result = await imports.run(ctx.app.db, ctx.user, int(number), now=ctx.now())
    except imports.BatchGone as gone:
        key = "desk.import.expired" if gone.expired else "desk.import.gone"
        ctx.notice(ctx._(key))
        ctx.say(ctx._(key))
        return
    except Exception:
        log.exception("import of batch %s failed; rolled back", number)
        ctx.say(ctx._("desk.import.failed"))
        return
    lines = [ctx._("desk.import.done", created=result.created, added=result.added, updated=result.updated)]
    names = await _chain_names(ctx)
    for chain_id in result.chains:
        size, wanted = await library.size(ctx.app.db, chain_id), await library.minimum(ctx.app.db, chain_id)
        line = "desk.import.chain_size" if size >= wanted else "desk.import.chain_below"
        lines.append(ctx._(line, chain=names.get(chain_id, ""), count=size, minimum=wanted))
    ctx.say("\n".join(lines))


async def template(ctx: Context, msg: Incoming) -> None:
    """Send the empty import spreadsheet."""
    chains = await enterprises.chains(ctx.app.db)
    ctx.send_file(ctx._("desk.template.file"), imports.template(ctx.locale, chains), ctx._("desk.template.caption"))


def register(registry: Registry) -> None:
    registry.add_command(Command("template", template, roles=IMPORT_ROLES, help_key="help.template"))
    registry.add_action(Action("imp", on_answer, roles=IMPORT_ROLES))
    registry.documents = DocumentHandler(on_document, roles=IMPORT_ROLES)
