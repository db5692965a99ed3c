"""report rollup: per section, scores and reasons by when they were written, per-day measures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:05:00

Reasons get ``created_at`` (older ones take their comment's first score time, which is when they
were written). The rollup gains measures and a section, so every site's rollup is dropped and
rolled up again on the next report (or ``stet report rollup``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reasons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE reasons SET created_at = COALESCE("
        "(SELECT min(scores.created_at) FROM scores WHERE scores.comment_id = reasons.comment_id), "
        "(SELECT comments.created_at FROM comments WHERE comments.id = reasons.comment_id))"
    )
    with op.batch_alter_table("reasons", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_reasons_created", ["created_at"], unique=False)
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index("ix_scores_created", ["created_at"], unique=False)
    # The rollup gains measures and a section: it is rolled up again from scratch.
    op.drop_table("report_rollups")
    op.create_table(
        "report_rollups",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("section", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("site_id", "measure", "section", "slot", "key"),
    )
    op.execute("DELETE FROM report_rollup_state")
    with op.batch_alter_table("report_rollup_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_table("report_rollups")
    op.create_table(
        "report_rollups",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("site_id", "measure", "slot", "key"),
    )
    op.execute("DELETE FROM report_rollup_state")
    with op.batch_alter_table("report_rollup_state", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index("ix_scores_created")
    with op.batch_alter_table("reasons", schema=None) as batch_op:
        batch_op.drop_index("ix_reasons_created")
        batch_op.drop_column("created_at")
