"""What the moderation functions refuse."""

from __future__ import annotations


class ModerationError(Exception):
    """An action that cannot be applied as asked (for example, already decided)."""
