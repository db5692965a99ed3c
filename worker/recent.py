"""Recent comments kept in Redis, so every worker process sees repetition and bursts.

For each site, a comment's MinHash signature (``spam.similarity``) is stored for ``window``
seconds and its id is filed under the signature's LSH band keys; the comments that share a band
with a new one are compared with it. Sorted sets scored by posting time count one author's or one
IP address's comments in the last minute. Members are comment ids, so scoring a comment twice
counts it once. Times are the comments' posting times, not the scoring times, so a backlog or a
sweep does not make old comments look like a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from service.policy import Reason
from worker.scorers.spam.similarity import band_keys, similar

PREFIX = "stet:recent"
BURST_WINDOW = 60.0

# Log-odds added to the spam score (see worker.scorers.spam); strong, since a copy-paste campaign
# or a flood is spam whatever the words say.
WEIGHTS = {
    "repeated_by_author": 3.0,
    "copied_across_authors": 4.0,
    "author_burst": 2.5,
    "ip_burst": 2.5,
}


@dataclass(frozen=True)
class Posting:
    site_id: int
    comment_id: int
    author: str
    article: str
    ip: str | None
    posted_at: float  # Unix time
    signature: bytes


class RecentActivity:
    def __init__(
        self, client: redis.Redis, *, window: float = 600.0, author_limit: int = 5, ip_limit: int = 20
    ):
        self.client, self.window = client, window
        self.author_limit, self.ip_limit = author_limit, ip_limit

    def observe(self, posting: Posting) -> list[Reason]:
        """Remember ``posting`` and return the repetition and burst reasons it triggers."""
        site = f"{PREFIX}:{posting.site_id}"
        bands = [f"{site}:band:{key}" for key in band_keys(posting.signature)]
        t, own = posting.posted_at, str(posting.comment_id)
        pipe = self.client.pipeline()
        for band in bands:
            pipe.zrangebyscore(band, t - self.window, t + self.window)
        candidates = {m.decode() for found in pipe.execute() for m in found} - {own}
        copies = self._copies(site, posting, sorted(candidates, key=int)[:500])

        pipe = self.client.pipeline()
        pipe.hset(
            f"{site}:c:{own}",
            mapping={"sig": posting.signature, "author": posting.author, "article": posting.article},
        )
        pipe.expire(f"{site}:c:{own}", int(self.window * 2))
        for band in bands:
            pipe.zadd(band, {own: t})
            pipe.zremrangebyscore(band, "-inf", t - 2 * self.window)
            pipe.expire(band, int(self.window * 2))
        burst_keys = [f"{site}:author:{posting.author}"] + ([f"{site}:ip:{posting.ip}"] if posting.ip else [])
        for key in burst_keys:
            pipe.zadd(key, {own: t})
            pipe.zremrangebyscore(key, "-inf", t - 2 * BURST_WINDOW)
            pipe.expire(key, int(BURST_WINDOW * 2))
            pipe.zcount(key, t - BURST_WINDOW, t)
        results = pipe.execute()
        counts = results[len(results) - 4 * len(burst_keys) + 3 :: 4]  # each key's zcount
        return copies + self._bursts(counts)

    def _copies(self, site: str, posting: Posting, candidates: list[str]) -> list[Reason]:
        if not candidates:
            return []
        pipe = self.client.pipeline()
        for cid in candidates:
            pipe.hmget(f"{site}:c:{cid}", "sig", "author", "article")
        same_author, authors, articles = 0, set(), set()
        for sig, author, article in pipe.execute():
            if sig is None or not similar(sig, posting.signature):
                continue
            if author.decode() == posting.author:
                same_author += 1
            else:
                authors.add(author.decode())
                articles.add(article.decode())
        minutes = round(self.window / 60)
        reasons = []
        if same_author:
            reasons.append(
                Reason(
                    "repeated_by_author",
                    WEIGHTS["repeated_by_author"],
                    f"the author posted this text {same_author} more time(s) in {minutes} min",
                    [],
                )
            )
        if authors:
            reasons.append(
                Reason(
                    "copied_across_authors",
                    WEIGHTS["copied_across_authors"],
                    f"the same text came from {len(authors)} other author(s) on "
                    f"{len(articles)} article(s) within {minutes} min",
                    [],
                )
            )
        return reasons

    def _bursts(self, counts: list[int]) -> list[Reason]:
        reasons = []
        if counts and counts[0] > self.author_limit:
            reasons.append(
                Reason(
                    "author_burst",
                    WEIGHTS["author_burst"],
                    f"{counts[0]} comments from this author in a minute (limit {self.author_limit})",
                    [],
                )
            )
        if len(counts) > 1 and counts[1] > self.ip_limit:
            reasons.append(
                Reason(
                    "ip_burst",
                    WEIGHTS["ip_burst"],
                    f"{counts[1]} comments from this IP address in a minute (limit {self.ip_limit})",
                    [],
                )
            )
        return reasons
