"""per-attribute policy: dangerous attributes' thresholds per site and article, and what to do with rudeness

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attribute_thresholds", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("rude", sa.String(length=16), nullable=True))
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attribute_thresholds", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("attribute_thresholds")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("rude")
        batch_op.drop_column("attribute_thresholds")
