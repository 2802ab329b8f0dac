"""/history <lead|visit|project|enterprise|…> <id> (bureau) — who created and changed a record,
and when: ``/history 项目 12``, ``/history p12``, ``/history enterprise 7``, ``/history 单位 3``.

Every field and value of an entry is worded from the catalogs: a field name as stored, an
enum value or an id never reaches the reader (a test drives every landing action to hold it).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from bot.core import Incoming
from bot.core.conversation import Command, Context
from bot.core.i18n import catalog
from bot.core.registry import Registry
from handlers.networks import NETWORK_FIELDS
from models import Role
from services import history
from services.money import format_money

HISTORY_ROLES = frozenset({Role.BUREAU})
# The latest changes; a Telegram message holds 4096 characters.
MAX_EVENTS = 40
_ARGS = re.compile(r"^([^\d\s#]+)\s*#?\s*(\d{1,12})$")
_WORDS = {
    "lead": ("lead", "leads", "l", "线索", "信息"),
    "visit": ("visit", "visits", "v", "拜访", "考察"),
    "project": ("project", "projects", "p", "项目"),
    "enterprise": ("enterprise", "enterprises", "e", "company", "企业"),
    "contact": ("contact", "contacts", "c", "名录", "联系人"),
    "expo": ("event", "events", "expo", "x", "节会"),
    "opportunity": ("opportunity", "opportunities", "o", "机会", "场景"),
    "question": ("question", "questions", "q", "询问", "点题"),
    "supervision": ("supervision", "supervise", "s", "督导"),
    "unit": ("unit", "units", "u", "单位"),
    "approval_kind": ("approval", "approvals", "a", "审批", "审批事项"),
}
_SKIPPED = {"name", "survivor", "absorbed", "survivor_id", "absorbed_id", "moved"}


def parse(args: str) -> tuple[str, int] | None:
    text = " ".join(unicodedata.normalize("NFKC", args).split()).lower()
    match = _ARGS.fullmatch(text)
    if match is None:
        return None
    word = match[1].strip()
    entity = next((key for key, words in _WORDS.items() if word in words), None)
    return (entity, int(match[2])) if entity else None


# The field a before/after pair of each action is about.
CHANGED = {
    "stage": "stage",
    "funds": "funds_yuan",
    "planned": "planned_yuan",
    "follow_up_moved": "follow_up_date",
    "tagged": "tags",
    "leader_assigned": "leader",
    # Landing (§15–§19): the state an approval or a need went to, a unit's head contact, a kind's name.
    "approval": "approval_state",
    "need_answered": "need_state",
    "head_contact": "head_contact",
    "kind_renamed": "name_zh",
}
# Audit detail fields worded from the catalogs (``desk.history.field.<name>``); others show raw.
FIELDS = (
    "enterprise", "credit_code", "amount_yuan", "planned_yuan", "funds_yuan", "chain_id", "source", "unit_id",
    "from_unit_id", "to_unit_id", "from_unit", "to_unit", "stage", "reason", "visit_date", "follow_up_date",
    "flagged", "level", "leader", "tags", "text", "dispute_id", "via", "entry_id", "file", "rows",
    *NETWORK_FIELDS,
    # Landing (§15–§19)
    "owner", "due_on", "handler", "mode", "approval_state", "need_state", "need_id", "size", "needed_by",
    "reviewer", "reviewed_on", "conclusion", "missing", "late", "issue", "head_contact", "name_zh", "name_en",
)  # fmt: skip
_UNITS = {"unit_id", "from_unit_id", "to_unit_id", "from_unit", "to_unit"}
_DATES = {"visit_date", "follow_up_date", "due_on", "needed_by", "reviewed_on"}
# A landing field whose stored code has its words under a catalog prefix.
_CODES = {"mode": "approval.mode", "approval_state": "approval.state", "need_state": "need.state"}
# What ``kind`` (and ``missing``) codes name depends on the action.
_KIND_OF = {
    "need_raised": "need.kind",
    "need_answered": "need.kind",
    "review": "signing.kind",
    "signing_exception": "signing.kind",
}


def _known(ctx: Context, key: str) -> bool:
    return bool(catalog(ctx.locale).get(key))


def _code(ctx: Context, prefix: str, value: str) -> str:
    return ctx._(f"{prefix}.{value}") if _known(ctx, f"{prefix}.{value}") else value


def _landing(ctx: Context, names: history.Names, action: str, field: str, value: Any) -> str | None:
    """The words of a landing field's value, or None when it is not one."""
    if field == "kind" and action == "approval" and isinstance(value, str) and value in names.approval_kinds:
        zh, en = names.approval_kinds[value]
        return en if ctx.locale == "en" and en else zh
    if field in ("kind", "missing") and action in _KIND_OF:
        codes = value if isinstance(value, list) else [value]
        return ctx._("desk.history.list_sep").join(_code(ctx, _KIND_OF[action], str(c)) for c in codes)
    if field in _CODES and isinstance(value, str):
        return _code(ctx, _CODES[field], value)
    if field == "need_id":
        return f"#{value}"
    if field == "head_contact" and isinstance(value, int):
        return names.people.get(value, f"#{value}")
    return None


def _value(ctx: Context, names: history.Names, field: str, value: Any, action: str = "") -> str:
    en = ctx.locale == "en"
    if (worded := _landing(ctx, names, action, field, value)) is not None:
        return worded
    if isinstance(value, bool):
        return ctx._("desk.history.yes" if value else "desk.history.no")
    if isinstance(value, int) and (field.endswith("_yuan")):
        return format_money(value, ctx.locale)
    if isinstance(value, int) and field in _UNITS and value in names.units:
        return names.units[value][1 if en and names.units[value][1] else 0]
    if isinstance(value, int) and field == "chain_id" and value in names.chains:
        return names.chains[value][1 if en and names.chains[value][1] else 0]
    if isinstance(value, int) and field == "leader" and value in names.people:
        return names.people[value]
    if isinstance(value, str) and field in ("stage", "source", "level"):
        prefix = {"stage": "stage", "source": "source", "level": "leader_level"}[field]
        return ctx._(f"{prefix}.{value}") if _known(ctx, f"{prefix}.{value}") else value
    if isinstance(value, str) and field in _DATES:
        try:
            return date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            return value
    if isinstance(value, list):
        words = [ctx._(f"tag.{v}") if field == "tags" and _known(ctx, f"tag.{v}") else str(v) for v in value]
        return ctx._("desk.history.list_sep").join(words)
    return str(value)


def _label(ctx: Context, field: str) -> str:
    return ctx._(f"desk.history.field.{field}") if field in FIELDS else field


def _detail(ctx: Context, names: history.Names, action: str, detail: dict[str, Any]) -> str:
    parts = []
    changed = CHANGED.get(action)
    if changed and ("before" in detail or "after" in detail):
        parts.append(
            ctx._(
                "desk.history.change",
                field=_label(ctx, changed),
                before=_value(ctx, names, changed, detail.get("before"), action)
                if detail.get("before") not in (None, "", [])
                else ctx._("desk.history.none"),
                after=_value(ctx, names, changed, detail.get("after"), action),
            )
        )
    for key, value in detail.items():
        # A dict is a whole earlier state (the networks keep one); the table has it, the line need not.
        if (
            key in _SKIPPED
            or value in (None, "", [], {})
            or isinstance(value, dict)
            or (changed and key in ("before", "after"))
        ):
            continue
        parts.append(ctx._("desk.history.field", field=_label(ctx, key), value=_value(ctx, names, key, value, action)))
    return ctx._("desk.history.field_sep").join(parts)


def _action(ctx: Context, action: str, detail: dict[str, Any]) -> str:
    if action in ("merged", "merged_into"):
        return ctx._(
            f"desk.history.{action}",
            survivor=detail.get("survivor", ""),
            survivor_id=detail.get("survivor_id", ""),
            absorbed=detail.get("absorbed", ""),
            absorbed_id=detail.get("absorbed_id", ""),
        )
    key = f"desk.history.action.{action}"
    # Other areas add actions of their own; an unknown one is shown as it is stored.
    return ctx._(key) if catalog(ctx.locale).get(key) else action


async def show(ctx: Context, msg: Incoming) -> None:
    """The audit trail of one record."""
    parsed = parse(msg.args)
    if parsed is None:
        ctx.say(ctx._("desk.history.usage"))
        return
    entity, number = parsed
    what = ctx._(f"desk.history.entity.{entity}")
    if not await history.exists(ctx.app.db, entity, number):
        ctx.say(ctx._("desk.history.missing", what=what, id=number))
        return
    events = await history.events(ctx.app.db, entity, number)
    if not events:
        ctx.say(ctx._("desk.history.empty", what=what, id=number))
        return
    lines = [ctx._("desk.history.header", what=what, id=number)]
    if len(events) > MAX_EVENTS:
        lines.append(ctx._("desk.history.earlier", count=len(events) - MAX_EVENTS))
        events = events[-MAX_EVENTS:]
    names = await history.names(ctx.app.db)
    for event in events:
        entry = event.entry
        unit = event.unit_en if ctx.locale == "en" and event.unit_en else event.unit_zh
        actor = event.actor or ctx._("desk.history.system")
        if unit:
            actor = ctx._("desk.history.actor", name=actor, unit=unit)
        detail = _detail(ctx, names, entry.action, entry.detail)
        if entity == "enterprise" and entry.entity_id != number:
            detail = ctx._("desk.history.on_absorbed", id=entry.entity_id) + (f" {detail}" if detail else "")
        lines.append(
            ctx._(
                "desk.history.line",
                when=entry.at.astimezone(ctx.app.tz).strftime("%Y-%m-%d %H:%M"),
                actor=actor,
                action=_action(ctx, entry.action, entry.detail),
                detail=f"（{detail}）" if detail and ctx.locale == "zh" else f" ({detail})" if detail else "",
            )
        )
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_command(Command("history", show, roles=HISTORY_ROLES, help_key="help.history"))
