"""Alembic revision scripts, in order (Alembic loads them by path; nothing imports them)."""
