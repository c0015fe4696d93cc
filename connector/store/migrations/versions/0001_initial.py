"""The initial schema: sessions, utterances, controls, nonces (see connector/store/schema.py).

Revision ID: 0001
Revises:
Create Date: 2026-05-20

Written by hand from the schema and frozen: it spells every type and constraint name itself, so
a later change to ``schema.py`` does not rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("participant", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("media_format", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("engine", sa.Text(), nullable=True),
        sa.Column("replica", sa.Text(), nullable=False),
        sa.Column("transcribing", sa.Boolean(), nullable=False),
        sa.Column("control_version", sa.Integer(), nullable=False),
        sa.Column("audio_seconds", sa.Float(), nullable=False),
        sa.Column("transcribed_seconds", sa.Float(), nullable=False),
        sa.Column("transcripts", sa.Integer(), nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("disconnect_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("session_id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_conversation_id", "sessions", ["conversation_id"])
    op.create_index("ix_sessions_started_at", "sessions", ["started_at"])
    op.create_index("ix_sessions_ended_at", "sessions", ["ended_at"])

    op.create_table(
        "utterances",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("utterance_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("offset_seconds", sa.Float(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("sent_at", _TIME, nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("translation_text", sa.Text(), nullable=True),
        sa.Column("translation_language", sa.Text(), nullable=True),
        sa.Column("engine", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_utterances"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name="fk_utterances_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("session_id", "utterance_id", name="uq_utterances_session_id_utterance_id"),
    )
    op.create_index("ix_utterances_conversation_id", "utterances", ["conversation_id"])
    op.create_index("ix_utterances_sent_at_id", "utterances", ["sent_at", "id"])

    op.create_table(
        "controls",
        sa.Column("conversation_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("engine", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("agent_id", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.CheckConstraint("state IN ('started', 'stopped')", name="ck_controls_state"),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_controls"),
    )
    op.create_index("ix_controls_updated_at", "controls", ["updated_at"])

    op.create_table(
        "nonces",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_nonces"),
    )
    op.create_index("ix_nonces_expires_at", "nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_table("nonces")
    op.drop_table("controls")
    op.drop_table("utterances")
    op.drop_table("sessions")
