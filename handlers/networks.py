"""The networks' lines in the bureau's overview and ``/digest`` (§9–§13)."""

from __future__ import annotations

from bot.core.i18n import Translator
from handlers.expos import follow_through_lines
from services.capital import dollars_text
from services.money import format_money
from services.networks import NetworkFound, NetworksOverview

MAX_EVENTS = 8
# Audit detail fields of the networks' records that /history words (``desk.history.field.<name>``).
NETWORK_FIELDS = (
    "kind", "cadence_days", "note", "contact_id", "expo_id", "starts_on", "ends_on", "fund_mode", "fund_name",
    "fund_yuan", "foreign_usd", "usd_rate", "foreign_yuan", "title", "scenario", "size_yuan", "deadline", "lead_id",
    "opportunity_id",
)  # fmt: skip


def network_lines(_: Translator, figures: NetworksOverview) -> list[str]:
    lines = [
        "",
        _("net.digest.header"),
        _(
            "net.digest.foreign",
            projects=figures.foreign_projects,
            usd=_("net.capital.usd", amount=dollars_text(figures.foreign_usd, _.locale)),
            yuan=format_money(figures.foreign_yuan, _.locale),
            global500=figures.global500_projects,
        ),
        _("net.digest.funds", projects=figures.fund_projects, amount=format_money(figures.fund_yuan, _.locale)),
    ]
    for ft in figures.events[:MAX_EVENTS]:
        lines.append(_("net.digest.event", name=ft.expo.name(_.locale)))
        lines.extend(f"  {line}" for line in follow_through_lines(_, ft))
    lines.append(
        _(
            "net.digest.lists",
            overdue=figures.overdue_contacts,
            open=figures.open_opportunities,
            interests=figures.new_interests,
        )
    )
    return lines


def found_lines(_: Translator, found: NetworkFound) -> list[str]:
    """What /find shows of the networks, after enterprises, leads and projects."""
    lines: list[str] = []
    if found.contacts:
        lines += ["", _("net.find.contacts", count=len(found.contacts))]
        lines += [
            _("net.find.contact", id=c.id, name=c.name, place=c.place, relation=c.relation) for c in found.contacts
        ]
    if found.events:
        lines += ["", _("net.find.events", count=len(found.events))]
        lines += [_("net.find.event", id=e.id, name=e.name(_.locale)) for e in found.events]
    if found.opportunities:
        lines += ["", _("net.find.opportunities", count=len(found.opportunities))]
        lines += [
            _("net.find.opportunity", id=o.id, title=o.title, deadline=o.deadline.isoformat() if o.deadline else "—")
            for o in found.opportunities
        ]
    return lines
