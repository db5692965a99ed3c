"""report rollup: scores and reasons by when they were written, per-day measures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:05:00

Reasons get ``created_at`` (older ones take their comment's first score time, which is when they
were written). The rollup gains measures, so every site's rollup is dropped and rolled up again
on the next report (or ``stet report rollup``).
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
    op.execute("DELETE FROM report_rollups")
    op.execute("DELETE FROM report_rollup_state")
    with op.batch_alter_table("report_rollup_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("report_rollups", schema=None) as batch_op:  # keys name a section
        batch_op.alter_column(
            "key", existing_type=sa.String(length=100), type_=sa.String(length=300), existing_nullable=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM report_rollups")
    op.execute("DELETE FROM report_rollup_state")
    with op.batch_alter_table("report_rollup_state", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("report_rollups", schema=None) as batch_op:
        batch_op.alter_column(
            "key", existing_type=sa.String(length=300), type_=sa.String(length=100), existing_nullable=False
        )
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index("ix_scores_created")
    with op.batch_alter_table("reasons", schema=None) as batch_op:
        batch_op.drop_index("ix_reasons_created")
        batch_op.drop_column("created_at")
