"""webhooks: a redelivery points at the delivery whose event it sends again (the event's id)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redelivery_of", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_webhook_deliveries_redelivery_of", "webhook_deliveries", ["redelivery_of"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_webhook_deliveries_redelivery_of", type_="foreignkey")
        batch_op.drop_column("redelivery_of")
