"""What the moderation functions refuse."""

from __future__ import annotations


class ModerationError(Exception):
    """An action that cannot be applied as asked (for example, already decided)."""


class Refused(Exception):
    """A new comment the site's rules refuse. ``code`` names the rule and ``field`` the input it
    concerns, for the faces to show (the API maps each to its HTTP status)."""

    code = "refused"
    field = ""


class AuthorBanned(Refused):
    code, field = "author_banned", "author.id"

    def __init__(self) -> None:
        super().__init__("the author is banned from commenting")


class AuthorSuspended(Refused):
    code, field = "author_suspended", "author.id"

    def __init__(self, until: str) -> None:
        super().__init__(f"the author is suspended until {until}")


class CommentsClosed(Refused):
    code, field = "comments_closed", "article.id"

    def __init__(self) -> None:
        super().__init__("the article is closed to comments")
