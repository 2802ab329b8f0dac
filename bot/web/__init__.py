"""The bureau's dashboard (a Telegram Mini App, and a page in any browser): read-only, server-drawn."""
