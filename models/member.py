"""A registered person as handlers and services see them: a snapshot with no session attached."""

from __future__ import annotations

from dataclasses import dataclass

from models.org import Role


@dataclass(frozen=True)
class Member:
    """A registered person as handlers see them (a snapshot; no session attached)."""

    id: int
    telegram_id: int
    full_name: str
    role: Role
    unit_id: int | None
    unit_code: str | None
    unit_name_zh: str
    unit_name_en: str
    unit_kind: str | None
    leader_level: str | None
    locale: str | None
    is_admin: bool = False

    def unit_name(self, locale: str) -> str:
        return self.unit_name_en if locale == "en" and self.unit_name_en else self.unit_name_zh
