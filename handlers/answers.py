"""Answers several conversations read alike: a day that has already happened, an amount of money."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Next
from services.dates import InvalidDate, parse_day
from services.money import InvalidMoney, parse_money
from services.periods import local_date


def today(ctx: Context) -> date:
    return local_date(ctx.now(), ctx.app.tz)


def ask_past_day(ctx: Context, question: str, today_label: str, yesterday_label: str) -> None:
    """Ask ``question`` (already translated) with a button for today and one for yesterday."""
    buttons = [Button(today_label, "d0"), Button(yesterday_label, "d1")]
    ctx.say(question, Keyboard.grid(buttons, width=2))


def read_past_day(ctx: Context, msg: Incoming, *, unreadable: str, future: str) -> date | Next:
    """The day pressed or typed, or the question again with ``unreadable``/``future`` said."""
    data = ctx.choice(msg)
    if data in ("d0", "d1"):
        day = today(ctx) - timedelta(days=int(data[1:]))
    else:
        answer = ctx.text_answer(msg, max_len=20)
        if isinstance(answer, Next):
            return answer
        try:
            day = parse_day(answer, today(ctx))
        except InvalidDate:
            return ctx.again(unreadable, text=answer)
    if day > today(ctx):
        return ctx.again(future, date=day.isoformat())
    return day


def read_money(
    ctx: Context, msg: Incoming, parse: Callable[[str], int] = parse_money, *, max_len: int = 40
) -> int | Next:
    """The amount typed (in yuan, unless ``parse`` reads another currency), or the question
    again with what was wrong with it."""
    answer = ctx.text_answer(msg, max_len=max_len)
    if isinstance(answer, Next):
        return answer
    try:
        return parse(answer)
    except InvalidMoney as exc:
        return ctx.again(f"money.err.{exc.code}", text=answer)
