"""A project's task force in words: the /taskforce overview, and the lines a project's card adds."""

from __future__ import annotations

from datetime import date

from bot.core.i18n import Translator
from services.taskforce import ForceView


def approval_state_name(_: Translator, state: str) -> str:
    return _(f"approval.state.{state}")


def force_lines(_: Translator, view: ForceView, today: date, *, full: bool) -> list[str]:
    """What the task force has to do; ``full`` adds every task and approval, not only what is pending."""
    project = view.project
    if view.force is None:
        return [_("taskforce.none", number=project.id, name=project.name)] if full else []
    lines = [
        _(
            "taskforce.header",
            number=project.id,
            name=project.name,
            unit=view.responsible.name(_.locale) if view.responsible else "",
            leader=view.leader.full_name if view.leader else _("project.leader.nobody"),
        )
    ]
    if view.head is not None:
        lines.append(_("heads.card", person=view.head.full_name))
    if view.members:
        lines.append(_("taskforce.members", units=_("taskforce.sep").join(u.name(_.locale) for u in view.members)))
    tasks = view.tasks if full else view.open_tasks
    for line in tasks:
        key = "taskforce.task.done" if line.task.done_on else "taskforce.task.open"
        if line.task.done_on is None and line.task.due_on < today:
            key = "taskforce.task.overdue"
        lines.append(_(key, task=line.task.title, owner=line.owner.full_name, due=line.task.due_on.isoformat()))
    approvals = view.approvals if full else view.pending_approvals
    if approvals:
        lines.append(_("taskforce.approvals_header"))
    for item in approvals:
        detail = []
        if item.item.handler:
            detail.append(item.item.handler)
        if item.item.mode != "standard":
            detail.append(_(f"approval.mode.{item.item.mode}"))
        if item.item.due_on:
            overdue = item.open and item.item.due_on < today
            detail.append(
                _("taskforce.approval.overdue" if overdue else "taskforce.approval.due", due=item.item.due_on)
            )
        lines.append(
            _(
                "taskforce.approval.line",
                kind=item.kind.name(_.locale),
                state=approval_state_name(_, item.item.state),
                detail=(_("taskforce.approval.detail", text=_("taskforce.sep").join(detail)) if detail else ""),
            )
        )
    return lines
