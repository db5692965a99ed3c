"""How comments and articles look in API responses (``service.api.responses`` documents them)."""

from __future__ import annotations

from typing import Any

from service.models import Article, Comment


def comment_json(comment: Comment) -> dict[str, Any]:
    scores: dict[str, dict[str, Any]] = {}
    for score in comment.scores:
        entry = scores.setdefault(score.scorer, {"model_version": score.model_version})
        if entry["model_version"] == score.model_version:
            entry[score.label] = round(score.value, 6)
    decision = comment.decisions[-1] if comment.decisions else None
    return {
        "id": comment.id,
        "external_id": comment.external_id,
        "status": comment.status,
        "hidden": comment.hidden,
        "article_id": comment.article.external_id,
        "author_id": comment.author.external_id,
        "parent_id": comment.parent_id,
        "body": comment.body,
        "language": comment.language,
        "created_at": comment.created_at.isoformat(),
        "scores": scores,
        "reasons": [
            {"scorer": r.scorer, "code": r.code, "detail": r.detail, "weight": r.weight, "spans": r.spans}
            for r in comment.reasons
        ],
        "decision": None
        if decision is None
        else {
            "status": decision.status,
            "by": decision.by,
            "moderator": decision.user.name if decision.user else None,
            "reason": decision.reason,
            "at": decision.created_at.isoformat(),
        },
    }


def article_json(article: Article) -> dict[str, Any]:
    overridden = article.approve_below is not None and article.reject_above is not None
    return {
        "id": article.external_id,
        "title": article.title,
        "url": article.url,
        "section": article.section,
        "comments_open": article.comments_open,
        "premoderation": article.premoderation,
        "thresholds": {
            "approve_below": article.approve_below,
            "reject_above": article.reject_above,
            "attributes": article.attribute_thresholds,
        }
        if overridden
        else None,
    }
