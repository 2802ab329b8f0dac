"""Every flow, command and action a bot knows, gathered in one place (see ``handlers/__init__``).

It sits beside the flow types it holds, in the base, so handlers register themselves
without knowing the router that will dispatch to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.core import Incoming, Kind
from bot.core.conversation import Action, Command, Context, DocumentHandler, Flow, TextHandler
from models import Member, Role


@dataclass
class Registry:
    flows: dict[str, Flow] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    documents: DocumentHandler | None = None
    # Text sent outside any conversation (a pasted news item, a forwarded message).
    texts: TextHandler | None = None
    # What a location or a photo sent outside any conversation starts (a visit, there).
    outside: dict[Kind, DocumentHandler] = field(default_factory=dict)
    # Shown to people who are not registered, whatever they send (except /start <code>).
    public_commands: frozenset[str] = frozenset({"start"})

    def add_flow(self, flow: Flow, *, listed: bool = True) -> None:
        """Register a flow and its command; ``listed=False`` keeps it out of /help (flows
        that buttons open with a prefilled draft, see ``Context.start_flow``)."""
        self.flows[flow.name] = flow
        self.commands[flow.command] = Command(
            name=flow.command,
            run=_never,
            roles=flow.roles,
            help_key=f"help.{flow.command}" if listed else None,
            admin=flow.admin,
        )

    def add_command(self, command: Command) -> None:
        self.commands[command.name] = command

    def add_action(self, action: Action) -> None:
        self.actions[action.prefix] = action

    def flow_for_command(self, name: str) -> Flow | None:
        return next((f for f in self.flows.values() if f.command == name), None)

    def commands_for(self, role: Role | None, *, admin: bool = False) -> list[Command]:
        """The commands a person of ``role`` (an administrator: ``admin``) may use, in registration order."""
        return [
            c
            for c in self.commands.values()
            if c.help_key and (c.roles is None or (role is not None and role in c.roles)) and (admin or not c.admin)
        ]


async def _never(ctx: Context, msg: Incoming) -> None:  # pragma: no cover - flows start elsewhere
    raise AssertionError("flow commands are started by the router")


def allowed(roles: frozenset[Role] | None, member: Member | None, admin: bool = False) -> bool:
    """Whether ``member`` has one of ``roles`` (any role: ``None``) and, for ``admin``, is an administrator."""
    return member is not None and (roles is None or member.role in roles) and (member.is_admin or not admin)


def roles(*items: Role) -> frozenset[Role]:
    return frozenset(items)


def every_role() -> Iterable[Role]:
    return iter(Role)
