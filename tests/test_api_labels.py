"""Moderators' decisions exported as labels, a page at a time, for one site only."""

from __future__ import annotations

from service import accounts, moderation
from service.models import Comment, Status, User


def test_labels_are_exported_page_by_page(site, db, queued_comment, make_user):
    make_user("mod")
    ids = [queued_comment(body=f"Comment number {n}.") for n in range(3)]
    with db.session() as session:
        user = session.query(User).one()
        for n, comment_id in enumerate(ids):
            status = Status.APPROVED if n % 2 == 0 else Status.REJECTED
            code = None if status == Status.APPROVED else moderation.RejectCode.ABUSIVE
            moderation.moderate(session, session.get(Comment, comment_id), user, status, code=code)
        other, _key = accounts.create_site(session, "Other paper")
        session.commit()

    first = site.client.get("/api/v1/labels?limit=2", headers=site.headers()).get_json()
    second = site.client.get(
        f"/api/v1/labels?cursor={first['next_cursor']}", headers=site.headers()
    ).get_json()
    labels = first["labels"] + second["labels"]
    assert [(lab["comment_id"], lab["value"], lab["source"]) for lab in labels] == [
        (ids[0], 1.0, "moderator"),
        (ids[1], 0.0, "moderator"),
        (ids[2], 1.0, "moderator"),
    ]
    assert labels[1]["text"] == "Comment number 1."
    assert second["next_cursor"] is None


def test_a_bad_cursor_is_a_400(site):
    response = site.client.get("/api/v1/labels?cursor=zzz", headers=site.headers())
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "cursor"
