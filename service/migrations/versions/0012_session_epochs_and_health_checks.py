"""users.session_epoch (logging out, a new password or role end a user's sessions) and the
health_checks row /readyz writes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))
    checks = op.create_table(
        "health_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The row /readyz rewrites exists from the start: two first probes never race to insert it.
    op.bulk_insert(checks, [{"id": 1, "checked_at": datetime(2026, 1, 1, tzinfo=UTC)}])


def downgrade() -> None:
    op.drop_table("health_checks")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
