"""Who may use which command and which button, walked over the whole registry.

The tables below are the rule, written once; the registry must agree with them entry for
entry, so a command or button added without a line here fails. Then every command is sent
by every role, an administrator and a stranger, and every button pressed by each: those the
rule refuses get the refusal and change nothing, those it allows get on with it.
"""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.app import App
from bot.core.i18n import translate
from handlers import build_registry
from models import AuditEntry, Role
from tests import deskkit as k
from tests.conftest import ADMIN_ID, ChatFactory

EVERY = frozenset(Role)
FIELD = frozenset({Role.LIAISON, Role.COUNTY, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE})
RECORDS = FIELD | {Role.BUREAU}
PROJECTS = frozenset({Role.COUNTY, Role.DEPARTMENT, Role.SOE})
SEES_PROJECTS = PROJECTS | {Role.BUREAU, Role.CHAIN_LEAD, Role.LEADER}
BUREAU = frozenset({Role.BUREAU})
DESK = frozenset({Role.BUREAU, Role.CHAIN_LEAD})
ADMIN = True

#: command → (roles that may use it, administrators only)
COMMANDS: dict[str, tuple[frozenset[Role], bool]] = {
    "start": (EVERY, False),
    "help": (EVERY, False),
    "lang": (EVERY, False),
    "invite": (BUREAU, ADMIN),
    "members": (BUREAU, ADMIN),
    "invites": (BUREAU, ADMIN),
    "dept": (BUREAU, ADMIN),
    "lead": (RECORDS, False),
    "mine": (RECORDS, False),
    "visit": (FIELD, False),
    "visit_push": (FIELD, False),
    "visits": (RECORDS, False),
    "progress": (PROJECTS, False),
    "project": (PROJECTS, False),
    "projects": (SEES_PROJECTS, False),
    "lagging": (SEES_PROJECTS, False),
    "find": (EVERY, False),
    "quota": (EVERY, False),
    "digest": (EVERY, False),
    "export": (EVERY, False),
    "web": (EVERY, False),
    "targets": (BUREAU, False),
    "schedule": (BUREAU, False),
    "review": (BUREAU, False),
    "transfer": (BUREAU, False),
    "merge": (BUREAU, False),
    "history": (BUREAU, False),
    "library": (DESK, False),
    "template": (DESK, False),
    "rates": (frozenset({Role.BUREAU}), False),
    "reviews": (frozenset({Role.BUREAU, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "taskforce": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "need": (frozenset({Role.BUREAU, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "need_answer": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.DEPARTMENT}), False),
    "needs": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "ask": (frozenset({Role.BUREAU, Role.LEADER}), False),
    "question_answer": (frozenset({Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "supervise": (frozenset({Role.BUREAU}), False),
    "approvals": (frozenset({Role.BUREAU}), False),
    "disputes": (frozenset({Role.BUREAU}), False),
    "dispute_rule": (frozenset({Role.BUREAU}), False),
    "contacts": (frozenset({Role.BUREAU, Role.COUNTY, Role.LIAISON}), False),
    "contacted": (frozenset({Role.BUREAU, Role.COUNTY, Role.LIAISON}), False),
    "events": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.LIAISON, Role.SOE}), False),
    "source": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.LIAISON, Role.SOE}), False),
    "capital": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "opportunities": (
        frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.LIAISON, Role.SOE}),
        False,
    ),
}
#: button prefix → (roles that may press it, administrators only)
ACTIONS: dict[str, tuple[frozenset[Role], bool]] = {
    "lang": (EVERY, False),
    "vnext": (FIELD, False),
    "vpush": (FIELD, False),
    "pj": (SEES_PROJECTS, False),
    "asg": (BUREAU, False),
    "imp": (DESK, False),
    "inv": (BUREAU, ADMIN),
    "nda": (frozenset({Role.BUREAU, Role.CHAIN_LEAD, Role.DEPARTMENT}), False),
    "qa": (frozenset({Role.CHAIN_LEAD, Role.COUNTY, Role.DEPARTMENT, Role.SOE}), False),
    "dsp": (frozenset({Role.BUREAU}), False),
    "drl": (frozenset({Role.BUREAU}), False),
}
PEOPLE: dict[str, tuple[int, Role]] = {
    "bureau": (k.BUREAU, Role.BUREAU),
    "liaison": (k.LIAISON, Role.LIAISON),
    "county": (k.GANZHOU, Role.COUNTY),
    "zone": (k.ZONE, Role.COUNTY),
    "chain_lead": (k.GXJ, Role.CHAIN_LEAD),
    "department": (k.CZJ, Role.DEPARTMENT),
    "soe": (k.SOE, Role.SOE),
    "leader": (k.LEADER, Role.LEADER),
    "administrator": (ADMIN_ID, Role.BUREAU),
}
STRANGER = 800_000_000_404


def may(rule: tuple[frozenset[Role], bool], who: str) -> bool:
    roles, admin_only = rule
    return PEOPLE[who][1] in roles and (who == "administrator" or not admin_only)


def said(key: str, **params: object) -> str:
    return translate("zh", key, **params)


async def audit_count(app: App) -> int:
    async with app.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(AuditEntry))).one())


def test_the_registry_is_the_table() -> None:
    registry = build_registry()
    declared = {name: (c.roles or EVERY, c.admin) for name, c in registry.commands.items()}
    assert declared == COMMANDS
    assert {p: (a.roles or EVERY, a.admin) for p, a in registry.actions.items()} == ACTIONS


# Who may do what is decided in the registry and the router, the same over either database.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_each_command_for_each_person(chat: ChatFactory, app: App) -> None:
    for command in sorted(COMMANDS):
        for who, (telegram_id, _role) in PEOPLE.items():
            person = chat(telegram_id)
            await person.send(f"/{command}")
            refused = person.last_text == said("core.not_allowed", command=command)
            assert refused != may(COMMANDS[command], who), (command, who, person.last_text)
            assert said("core.error") not in person.last_text
        stranger = chat(STRANGER)
        await stranger.send(f"/{command}")
        assert stranger.last_text == said("core.not_registered"), command


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_each_button_for_each_person(chat: ChatFactory, app: App) -> None:
    await chat(ADMIN_ID).send("/help")  # registered on sight: an audited change of its own
    for prefix in sorted(ACTIONS):
        for who, (telegram_id, _role) in PEOPLE.items():
            person = chat(telegram_id)
            before = await audit_count(app)
            await person.press_data(f"!{prefix}:1")
            assert said("core.error") not in person.last_text, (prefix, who)
            if not may(ACTIONS[prefix], who):
                assert person.last_text == said("core.expired"), (prefix, who)
                assert await audit_count(app) == before, (prefix, who)
        stranger = chat(STRANGER)
        await stranger.press_data(f"!{prefix}:1")
        refused = (said("core.not_registered.short"), said("core.not_registered"))
        assert any(text in stranger.last_text for text in refused), prefix
