"""reader reports, feedback, labels, webhooks, audit log; article, author and site settings; queue indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 21:16:47.705628
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target_type", sa.String(length=50), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_audit_log_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhooks_site_id"), ["site_id"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("reader_id", sa.String(length=200), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_site_created", ["site_id", "created_at"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_state_next", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_webhook_id"), ["webhook_id"], unique=False)

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("attribute", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_comment_id"), ["comment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_site_id"), ["site_id"], unique=False)

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("comment_id", "reporter_id"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_comment_id"), ["comment_id"], unique=False)
        batch_op.create_index("ix_reports_site_created", ["site_id", "created_at"], unique=False)

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
    op.create_table(
        "report_rollup_state",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("site_id"),
    )

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("section", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("comments_open", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("premoderation", sa.String(length=16), server_default="off", nullable=False)
        )
        batch_op.add_column(sa.Column("approve_below", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reject_above", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_section"), ["section"], unique=False)

    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("banned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("suspended_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("premoderate", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("trusted", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("report_weight", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_comments_reported", ["reported_at"], unique=False)
        batch_op.add_column(
            sa.Column("mentions_identity", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_comments_site_created",
            ["site_id", "created_at", "status", "article_id", "mentions_identity"],
            unique=False,
        )
        batch_op.create_index("ix_comments_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_comments_status_risk_id", ["status", "risk", "id"], unique=False)
        batch_op.create_foreign_key("fk_comments_claimed_by_users", "users", ["claimed_by"], ["id"])

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_status", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_decisions_created", ["created_at"], unique=False)
        batch_op.create_index("ix_decisions_comment_by", ["comment_id", "by", "status"], unique=False)
        batch_op.create_index(
            "ix_decisions_by_created",
            ["by", "created_at", "comment_id", "user_id", "status", "from_status"],
            unique=False,
        )
    op.create_index("ix_scores_comment_label_value", "scores", ["comment_id", "label", "value"], unique=False)
    op.create_index("ix_reasons_comment_code", "reasons", ["comment_id", "code"], unique=False)

    # Comments scored before this revision get their risk from their stored scores.
    op.execute(
        "UPDATE comments SET risk = (SELECT max(value) FROM scores WHERE scores.comment_id = comments.id"
        " AND scores.label IN ('toxicity', 'spam'))"
    )

    _flag_identity_mentions()

    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False))
        batch_op.add_column(sa.Column("report_hide_weight", sa.Float(), server_default="3", nullable=False))
        batch_op.add_column(
            sa.Column("erasure", sa.String(length=16), server_default="anonymise", nullable=False)
        )


def downgrade() -> None:
    op.drop_table("report_rollup_state")
    op.drop_table("report_rollups")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("erasure")
        batch_op.drop_column("report_hide_weight")
        batch_op.drop_column("timezone")

    op.drop_index("ix_reasons_comment_code", table_name="reasons")
    op.drop_index("ix_scores_comment_label_value", table_name="scores")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_by_created")
        batch_op.drop_index("ix_decisions_comment_by")
        batch_op.drop_index("ix_decisions_created")
        batch_op.drop_column("from_status")

    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_comments_claimed_by_users", type_="foreignkey")
        batch_op.drop_index("ix_comments_status_risk_id")
        batch_op.drop_index("ix_comments_status_id")
        batch_op.drop_index("ix_comments_site_created")
        batch_op.drop_index("ix_comments_reported")
        batch_op.drop_column("mentions_identity")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("hidden")
        batch_op.drop_column("report_weight")
        batch_op.drop_column("reported_at")
        batch_op.drop_column("risk")

    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_column("trusted")
        batch_op.drop_column("premoderate")
        batch_op.drop_column("suspended_until")
        batch_op.drop_column("banned")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_section"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("reject_above")
        batch_op.drop_column("approve_below")
        batch_op.drop_column("premoderation")
        batch_op.drop_column("comments_open")
        batch_op.drop_column("section")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_site_created")
        batch_op.drop_index(batch_op.f("ix_reports_comment_id"))

    op.drop_table("reports")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_site_id"))
        batch_op.drop_index(batch_op.f("ix_labels_comment_id"))

    op.drop_table("labels")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_webhook_id"))
        batch_op.drop_index("ix_webhook_deliveries_state_next")

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_site_created")

    op.drop_table("feedback")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhooks_site_id"))

    op.drop_table("webhooks")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target")
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")


def _flag_identity_mentions() -> None:
    """Comments saved before this revision: flag those whose body names an identity group."""
    from service.identity import STEMS, mentions

    conn = op.get_bind()
    comments = sa.table("comments", sa.column("id"), sa.column("body"), sa.column("mentions_identity"))
    candidates = conn.execute(
        sa.select(comments.c.id, comments.c.body).where(
            sa.or_(*(comments.c.body.ilike(f"%{stem}%") for stem in STEMS))
        )
    )
    ids = [comment_id for comment_id, body in candidates if mentions(body)]
    for start in range(0, len(ids), 10_000):
        conn.execute(
            comments.update()
            .where(comments.c.id.in_(ids[start : start + 10_000]))
            .values(mentions_identity=True)
        )
