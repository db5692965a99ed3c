"""spam reasons and word lists

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:45:43.255046
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_words",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("pattern", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "kind", "pattern"),
    )
    with op.batch_alter_table("site_words", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_words_site_id"), ["site_id"], unique=False)

    op.create_table(
        "reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("scorer", sa.String(length=50), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("spans", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reasons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reasons_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_reasons_comment_id"), ["comment_id"], unique=False)

    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spam_queue_above", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("spam_reject_above", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("spam_reject_above")
        batch_op.drop_column("spam_queue_above")

    with op.batch_alter_table("reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reasons_comment_id"))
        batch_op.drop_index(batch_op.f("ix_reasons_code"))

    op.drop_table("reasons")
    with op.batch_alter_table("site_words", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_words_site_id"))

    op.drop_table("site_words")
