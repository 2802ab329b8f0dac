# investbot: one image for the bot, the scheduler and the maintenance commands.
# Build: docker build -t investbot .   Run: see docker-compose.yml and docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/investbot.sqlite3 \
    BACKUP_DIR=/backups

# postgresql-client: pg_dump/pg_restore for `investbot backup`/`restore` (its major version
# must be at least the server's). Chart fonts come with the Python install.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --user-group investbot \
    && mkdir /data /backups \
    && chown investbot:investbot /data /backups

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY bot/ bot/
COPY handlers/ handlers/
COPY models/ models/
COPY services/ services/
COPY locales/ locales/
COPY migrations/ migrations/
COPY seed/ seed/
# Editable, as `make setup` installs it: the bot reads locales/, migrations/ and seed/
# from beside its code, which a plain install would leave behind.
RUN python -m pip install -e .

USER investbot
VOLUME ["/data", "/backups"]
# Webhook mode listens here (WEBHOOK_PORT); polling mode needs no port.
EXPOSE 8080
# The database answers (and, in webhook mode, this process's GET /healthz).
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 CMD ["investbot", "health"]
# The bot migrates the database, and seeds it the first time, when it starts.
CMD ["investbot", "run"]
