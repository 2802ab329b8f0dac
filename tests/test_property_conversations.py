"""Every conversation against whatever a person may send: the bot always answers, never
fails, and keeps the draft.

Hypothesis picks a conversation and a run of messages — any unicode, emoji, control and
invisible characters, very long text, files, photos, locations, stickers, presses of the
buttons shown and of buttons that never were — and drives the bot with them. Pressing the
buttons shown walks the conversations' steps; everything else is thrown at whichever step
that reached. The example count stays modest so the suite stays fast; ``derandomize``
makes every run try the same examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.app import App
from bot.core import FileRef, Kind, Location, Reply
from bot.core.i18n import translate
from handlers import build_registry
from models import ConversationState, Role
from tests import deskkit as k
from tests.conftest import ADMIN_ID, ChatFactory
from tests.kit import Chat

PERSON_FOR: dict[Role, int] = {
    Role.LIAISON: k.LIAISON,
    Role.COUNTY: k.GANZHOU,
    Role.CHAIN_LEAD: k.GXJ,
    Role.DEPARTMENT: k.CZJ,
    Role.SOE: k.SOE,
    Role.BUREAU: ADMIN_ID,
    Role.LEADER: k.LEADER,
}
ROLE_ORDER = list(PERSON_FOR)


def conversations() -> list[tuple[str, int]]:
    """Each flow's command, with a person who may use it."""
    found = []
    for flow in build_registry().flows.values():
        role = next(r for r in ROLE_ORDER if r in flow.roles)
        found.append((flow.command, PERSON_FOR[role]))
    return sorted(found)


@dataclass(frozen=True)
class Event:
    kind: str
    value: Any = None


HIDDEN = st.sampled_from(["\u202e", "\u200b", "\u200d", "\ufeff", "\x07", "\x1b", "\u2066", "\x00"])
TEXTS = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
    st.lists(st.one_of(HIDDEN, st.sampled_from(["宁德时代", "5亿", "😀", "👨‍👩‍👧", "=1+1", " "])), max_size=6).map(
        "".join
    ),
    st.sampled_from(["长" * 5000, "1" * 300, "2026-13-45", "-5亿", "0", "/", "　"]),
)
EVENTS = st.one_of(
    TEXTS.map(lambda t: Event("text", t)),
    st.integers(0, 20).map(lambda i: Event("press", i)),
    st.text(max_size=64).map(lambda d: Event("garbage", d)),
    st.sampled_from(
        [
            Event("document"),
            Event("photo"),
            Event("location", Location(38.93, 100.45)),
            Event("location", Location(-91.0, 500.0)),
            Event("sticker"),
        ]
    ),
)


async def state(app: App, user_id: int) -> tuple[str, str, dict[str, Any]] | None:
    async with app.db.session() as session:
        row = (await session.exec(select(ConversationState).where(ConversationState.user_id == user_id))).first()
        return (row.flow, row.step, dict(row.draft)) if row else None


async def act(person: Chat, event: Event) -> None:
    if event.kind == "text":
        if event.value.startswith("/"):
            await person.send(event.value)
        else:
            await person.deliver(person._incoming(Kind.TEXT, text=event.value))
    elif event.kind == "press" and person.keyboard is not None and person.keyboard.buttons():
        buttons = [b for b in person.keyboard.buttons() if not b.url and not b.request_location]
        if buttons:
            await person.press(buttons[event.value % len(buttons)].label)
        else:
            await person.send_sticker()
    elif event.kind in ("press", "garbage"):
        await person.press_data(str(event.value or "x"))
    elif event.kind == "document":
        await person.deliver(person._incoming(Kind.DOCUMENT, file=FileRef("doc", "a.xlsx", None, 10)))
    elif event.kind == "photo":
        await person.send_photo()
    elif event.kind == "location":
        await person.share_location(event.value.latitude, event.value.longitude)
    else:
        await person.send_sticker()


# Whether an answer is kept is the router's and the steps' doing; the drafts' round trip through
# each database is proven by every conversation test on both.
@pytest.mark.parametrize("backend", ["sqlite"])
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(conversation=st.sampled_from(conversations()), events=st.lists(EVENTS, min_size=1, max_size=6))
async def test_any_input_at_any_step_is_answered_and_keeps_the_draft(
    conversation: tuple[str, int], events: list[Event], chat: ChatFactory, app: App
) -> None:
    async def no_file(file_id: str) -> bytes:
        return b"not a spreadsheet"

    app.fetch_file = no_file
    command, telegram_id = conversation
    person = chat(telegram_id)
    await person.send("/cancel")
    await person.send(f"/{command}")
    failures = {translate(locale, key) for locale in ("zh", "en") for key in ("core.error", "core.error.nothing_kept")}
    for event in events:
        before = await state(app, telegram_id)
        await act(person, event)
        response = person.last
        assert response.items, (command, event)  # always an answer
        shown = [item.text for item in response.items if isinstance(item, Reply)]
        assert not failures & set(shown), (command, event, shown)
        after = await state(app, telegram_id)
        if event.kind in ("garbage", "document") or event.kind == "sticker":
            # Nothing a step can take: the conversation is exactly where it was, draft and all.
            assert (after[:3] if after else None) == (before[:3] if before else None), (command, event)
        if event.kind == "text" and before is not None and after is None:
            # A typed answer ends a conversation only by finishing it, never by losing it.
            assert shown, (command, event)
