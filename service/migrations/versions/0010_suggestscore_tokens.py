"""labels: the clientToken and communityId a Perspective suggestscore call carried

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_token", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("community_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_column("community_id")
        batch_op.drop_column("client_token")
