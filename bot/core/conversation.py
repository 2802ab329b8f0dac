"""The pieces handlers are made of: flows of steps, one-shot commands, button actions.

A flow is a conversation such as ``/lead``: each step has an ``ask`` (put the question)
and a ``handle`` (read the answer and say where to go next). The router keeps which flow
and step a person is in, and the draft, in the database between messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from bot.core import Button, FileReply, Incoming, Keyboard, Kind, Notice, Outgoing, Reply
from bot.core.i18n import Translator
from models import Member, Role

if TYPE_CHECKING:
    from bot.core.app import App

# Longest free-text answer a step accepts unless it says otherwise: a pasted article is
# not a plan, and Telegram's own limit on a message is 4096.
MAX_TEXT = 500
ACTION_PREFIX = "!"


class Move(Enum):
    GOTO = "goto"  # ask the question of another step
    AGAIN = "again"  # stay on the step: say what was wrong, then ask again
    STAY = "stay"  # stay on the step without asking again
    DONE = "done"  # the conversation is over


@dataclass(frozen=True)
class Next:
    """Where a flow goes after a step handled a message: one move, and its step or error text."""

    move: Move
    arg: str = ""

    @classmethod
    def to(cls, step: str) -> Next:
        return cls(Move.GOTO, step)

    # What the router reads; each is set for exactly one move.
    @property
    def goto(self) -> str | None:
        return self.arg if self.move is Move.GOTO else None

    @property
    def error(self) -> str | None:
        return self.arg if self.move is Move.AGAIN else None

    @property
    def done(self) -> bool:
        return self.move is Move.DONE

    @property
    def stay(self) -> bool:
        return self.move is Move.STAY


def first_missing(draft: Mapping[str, object], order: Sequence[tuple[str, str]], end: str) -> str:
    """The step of the first draft key in ``order`` not yet answered, or ``end`` when all are.

    A flow routes every answer through this one rule, so a field filled ahead (from one
    message, a shared location, a default) is never asked, and a correction made from the
    summary comes back to it — unless it emptied another field, which is then asked first.
    """
    return next((step for key, step in order if key not in draft), end)


Asker = Callable[["Context"], Awaitable[None]]
StepHandler = Callable[["Context", Incoming], Awaitable[Next]]


@dataclass(frozen=True)
class Step:
    ask: Asker
    handle: StepHandler
    # A step that takes a file itself; elsewhere a file goes to the registry's DocumentHandler.
    documents: bool = False
    # A step that asks for a location: where a platform cannot share one (DingTalk), typed
    # coordinates answer it.
    location: bool = False


@dataclass(frozen=True)
class Flow:
    name: str
    command: str
    roles: frozenset[Role]
    start: StepHandler
    steps: Mapping[str, Step]
    title_key: str  # catalog key naming the flow ("lead" → "a lead")
    describe: Callable[[dict[str, Any]], str] | None = None
    admin: bool = False  # for administrators (BOT_ADMIN_IDS) only, whatever their role


@dataclass(frozen=True)
class Command:
    name: str
    run: Callable[[Context, Incoming], Awaitable[None]]
    roles: frozenset[Role] | None = None  # None: every registered person
    help_key: str | None = None  # listed in /help and the command menu when set
    admin: bool = False  # for administrators (BOT_ADMIN_IDS) only, whatever their role


@dataclass(frozen=True)
class Action:
    """A button outside any conversation (in a notification, a list); data is ``!prefix:arg``."""

    prefix: str
    run: Callable[[Context, Incoming, str], Awaitable[None]]
    roles: frozenset[Role] | None = None
    admin: bool = False


@dataclass(frozen=True)
class DocumentHandler:
    """Receives a file sent outside a conversation (a spreadsheet to import)."""

    run: Callable[[Context, Incoming], Awaitable[None]]
    roles: frozenset[Role] | None = None


@dataclass(frozen=True)
class TextHandler:
    """Receives text sent outside any conversation (a pasted or forwarded news item)."""

    run: Callable[[Context, Incoming], Awaitable[None]]
    roles: frozenset[Role] | None = None


def action_data(prefix: str, arg: str | int = "") -> str:
    return f"{ACTION_PREFIX}{prefix}:{arg}"


@dataclass
class Context:
    """What a handler works with: the app's services, the person, their draft, the replies."""

    app: App
    incoming: Incoming
    member: Member | None
    locale: str
    draft: dict[str, Any] = field(default_factory=dict)
    flow: str | None = None
    step: str | None = None
    out: list[Outgoing] = field(default_factory=list)
    # Set by an action that opens a conversation: the flow's name and its prefilled draft.
    begin: tuple[str, dict[str, Any]] | None = None
    # The last reply is a note the next question may still carry (see :meth:`note`).
    _open_note: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._ = Translator(self.locale)

    @property
    def user(self) -> Member:
        if self.member is None:
            raise PermissionError("not registered")
        return self.member

    def now(self) -> datetime:
        return self.app.now()

    # -- replies -----------------------------------------------------------------
    def say(self, text: str, keyboard: Keyboard | None = None, *, remove_keyboard: bool = False) -> None:
        last = self.out[-1] if self.out else None
        if self._open_note and isinstance(last, Reply):
            self.out[-1] = Reply(f"{last.text}\n\n{text}", keyboard, remove_keyboard=remove_keyboard)
        else:
            self.out.append(Reply(text, keyboard, remove_keyboard=remove_keyboard))
        self._open_note = False

    def note(self, text: str) -> None:
        """Say ``text`` on top of whatever is said next: one message where there would be two.

        Each message is a Bot API call and a push on the person's phone; a remark on the way
        ("filled in from your message", "found in the register") belongs with the question
        that follows it. Said alone when nothing follows.
        """
        last = self.out[-1] if self.out else None
        if self._open_note and isinstance(last, Reply):
            self.out[-1] = Reply(f"{last.text}\n{text}")
        else:
            self.out.append(Reply(text))
        self._open_note = True

    def edit(self, text: str, keyboard: Keyboard | None = None) -> None:
        self.out.append(Reply(text, keyboard, edit=True))
        self._open_note = False

    def notice(self, text: str, *, alert: bool = False) -> None:
        self.out.append(Notice(text, alert))

    def send_file(self, filename: str, content: bytes, caption: str = "", *, photo: bool = False) -> None:
        self.out.append(FileReply(filename, content, caption, photo))
        self._open_note = False

    def start_flow(self, flow: str, draft: Mapping[str, Any] | None = None) -> None:
        """From an action (a button outside a conversation): open ``flow`` with this draft.

        The router starts it once the action returns, exactly as if its command had been
        sent, except that the flow's ``start`` finds the draft already filled in.
        """
        self.begin = (flow, dict(draft or {}))

    # -- where next --------------------------------------------------------------
    def goto(self, step: str) -> Next:
        return Next.to(step)

    def then(self, step: str) -> Next:
        """Go on to ``step`` — or back to the summary when the person was correcting a field."""
        back = self.draft.pop("_back", None)
        return Next.to(back if isinstance(back, str) else step)

    def missing(self, order: Sequence[tuple[str, str]], end: str = "confirm") -> Next:
        """Ask for the first field of ``order`` the draft lacks; the summary once none is missing."""
        self.draft.pop("_back", None)
        return Next.to(first_missing(self.draft, order, end))

    def again(self, key: str, **params: object) -> Next:
        return Next(Move.AGAIN, self._(key, **params))

    def done(self) -> Next:
        return Next(Move.DONE)

    def stay(self) -> Next:
        return Next(Move.STAY)

    # -- reading answers -----------------------------------------------------------
    def text_answer(self, msg: Incoming, *, max_len: int = MAX_TEXT) -> str | Next:
        """The typed text of an answer, or the reason it is not one (say it and ask again)."""
        if msg.kind is not Kind.TEXT:
            return self.again("core.err.want_text")
        text = " ".join(msg.text.split())
        if not text:
            return self.again("core.err.empty")
        if len(text) > max_len:
            return self.again("core.err.too_long", max=max_len, got=len(text))
        return text

    def choice(self, msg: Incoming) -> str | None:
        """The data of a pressed button, if this message is a press."""
        return msg.data if msg.kind is Kind.BUTTON else None


def button(label: str, data: str) -> Button:
    return Button(label=label, data=data)
