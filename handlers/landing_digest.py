"""The digests' landing sections (§15–§19): rankings, the bureau's candidate lists, approvals
past their date and element needs waiting for an answer."""

from __future__ import annotations

from bot.core.i18n import Translator
from services.digests import BureauDigest
from services.money import format_money
from services.needs import NeedRow
from services.rankings import Ranked, Rankings
from services.taskforce import OverdueApproval

SHOWN = 5  # units per ranking, items per list: the rest is counted


def _value(_: Translator, indicator: str, item: Ranked) -> str:
    if indicator == "funds":
        return format_money(item.value, _.locale)
    if indicator == "effective_leads" and item.target:
        return _("digest.rank.of_target", value=item.value, target=item.target)
    return str(item.value)


def ranking_lines(_: Translator, rankings: Rankings | None) -> list[str]:
    if rankings is None:
        return []
    lines = [_("digest.rank.header")]
    for indicator, items in rankings.by_indicator.items():
        if not items:
            continue
        ranked = _("digest.rank.sep").join(
            _("digest.rank.item", rank=i.rank, unit=i.name(_.locale), value=_value(_, indicator, i))
            for i in items[:SHOWN]
        )
        lines.append(_("digest.rank.line", indicator=_(f"digest.rank.{indicator}"), ranked=ranked))
    return lines


def candidate_lines(_: Translator, rankings: Rankings | None) -> list[str]:
    """For the bureau only: who to commend, who to interview (§18)."""
    if rankings is None:
        return []
    lines = [_("digest.candidates.header")]
    if rankings.commend:
        lines.append(
            _(
                "digest.candidates.commend",
                units=_("digest.rank.sep").join(
                    _(
                        "digest.candidates.commend_item",
                        unit=item.name(_.locale),
                        indicators=_("digest.candidates.indicator_sep").join(_(f"digest.rank.{i}") for i in indicators),
                    )
                    for item, indicators in rankings.commend
                ),
            )
        )
    else:
        lines.append(_("digest.candidates.commend_none"))
    if rankings.interview:
        units = _("digest.rank.sep").join(
            _("digest.candidates.interview_item", unit=unit.name(_.locale), behind=behind)
            for unit, behind in rankings.interview
        )
        lines.append(_("digest.candidates.interview", units=units))
    else:
        lines.append(_("digest.candidates.interview_none"))
    return lines


def _approval(_: Translator, item: OverdueApproval) -> str:
    return _(
        "digest.approvals.item",
        number=item.project_id,
        name=item.project_name,
        kind=item.kind.name(_.locale),
        due=item.due_on.isoformat(),
        handler=item.handler,
    )


def _need(_: Translator, row: NeedRow) -> str:
    return _(
        "digest.needs.item",
        number=row.id,
        name=row.project.name,
        kind=_(f"need.kind.{row.need.kind}"),
        size=row.need.size,
        department=row.department.name(_.locale),
        state=_(f"need.state.{row.need.state}"),
    )


def _listed(_: Translator, header: str, items: list[str]) -> list[str]:
    lines = [header, *items[:SHOWN]]
    if len(items) > SHOWN:
        lines.append(_("digest.more", count=len(items) - SHOWN))
    return lines


def bureau_lines(_: Translator, digest: BureauDigest) -> list[str]:
    lines = ["", *ranking_lines(_, digest.rankings), *candidate_lines(_, digest.rankings)]
    approvals = [_approval(_, a) for a in digest.overdue_approvals]
    needs = [_need(_, n) for n in digest.open_needs]
    if approvals:
        lines += _listed(_, _("digest.approvals.header", count=len(approvals)), approvals)
    if needs:
        lines += _listed(_, _("digest.needs.header", count=len(needs)), needs)
    return lines
