"""akismet per site

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:09:09.023256
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("akismet_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("akismet_blog", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("akismet_blog")
        batch_op.drop_column("akismet_key")
