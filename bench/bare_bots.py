"""The peers of ``bench_memory``: the least a bot needs to hold the same conversations.

    python -m bench.bare_bots ptb|aiogram API_ROOT TOKEN DATABASE_FILE

``/lead`` asks which enterprise; the answer is written to the database with SQLModel and the
next question asked. The conversation's state lives where each framework keeps it by default
(PTB's ConversationHandler, aiogram's MemoryStorage): in memory.
"""

from __future__ import annotations

import asyncio
import sys

from sqlmodel import Field, Session, SQLModel, create_engine


class Draft(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int
    enterprise: str


def engine_for(path: str):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


def keep(engine, user_id: int, enterprise: str) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        session.add(Draft(user_id=user_id, enterprise=enterprise))
        session.commit()


def run_ptb(root: str, token: str, path: str) -> None:
    from telegram import Update
    from telegram.ext import (
        ApplicationBuilder,
        CommandHandler,
        ContextTypes,
        ConversationHandler,
        MessageHandler,
        filters,
    )

    engine = engine_for(path)
    ENTERPRISE, CHAIN = range(2)

    async def lead(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None
        await update.message.reply_text("哪家企业？")
        return ENTERPRISE

    async def enterprise(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None and update.effective_user is not None
        keep(engine, update.effective_user.id, update.message.text or "")
        await update.message.reply_text("哪条产业链？")
        return CHAIN

    app = ApplicationBuilder().token(token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot").build()
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("lead", lead)],
            states={ENTERPRISE: [MessageHandler(filters.TEXT & ~filters.COMMAND, enterprise)], CHAIN: []},
            fallbacks=[],
        )
    )
    app.run_polling(poll_interval=0, timeout=1)


def run_aiogram(root: str, token: str, path: str) -> None:
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.filters import Command
    from aiogram.fsm.context import FSMContext
    from aiogram.fsm.state import State, StatesGroup
    from aiogram.types import Message

    engine = engine_for(path)

    class LeadForm(StatesGroup):
        enterprise = State()
        chain = State()

    dp = Dispatcher()

    @dp.message(Command("lead"))
    async def lead(message: Message, state: FSMContext) -> None:
        await state.set_state(LeadForm.enterprise)
        await message.answer("哪家企业？")

    @dp.message(LeadForm.enterprise, F.text)
    async def enterprise(message: Message, state: FSMContext) -> None:
        assert message.from_user is not None
        keep(engine, message.from_user.id, message.text or "")
        await state.update_data(enterprise=message.text)
        await state.set_state(LeadForm.chain)
        await message.answer("哪条产业链？")

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(root)))
    asyncio.run(dp.start_polling(bot, polling_timeout=1, handle_signals=True))


if __name__ == "__main__":
    framework, root, token, path = sys.argv[1:5]
    (run_ptb if framework == "ptb" else run_aiogram)(root, token, path)
