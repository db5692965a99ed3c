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
from service.reasons import ReasonCode
from worker.scorers.spam.similarity import band_keys, similar

PREFIX = "stet:recent"
BURST_WINDOW = 60.0

# Log-odds added to the spam score (see worker.scorers.spam). A copy from other authors counts
# COPY_WEIGHT per author up to four (+8 lifts 99% of clean-looking news comments past the 0.5
# queue threshold), a repeat by the same author REPEAT_WEIGHT per copy up to three; bursts are flat.
COPY_WEIGHT, REPEAT_WEIGHT = 2.0, 2.5
BURST_WEIGHT = 2.5
# Shorter comments ("Thank you!", "Great article") are alike by nature, not by campaign.
MIN_WORDS = 6
# A comment is compared with at most this many of the latest that share a band with it. The weights
# stop growing at four authors, so this is plenty; and in a copy-paste campaign every earlier copy
# shares every band, so reading them all made each comment slower than the last (6,000 copies in
# 30 s: 64 decisions/s, against 270/s for varied texts; benchmarks/burst.py).
CANDIDATES = 100


@dataclass(frozen=True)
class Posting:
    site_id: int
    comment_id: int
    author: str
    article: str
    ip: str | None
    posted_at: float  # Unix time
    signature: bytes | None = None  # None: too short to compare (see MIN_WORDS)


class RecentActivity:
    def __init__(
        self, client: redis.Redis, *, window: float = 600.0, author_limit: int = 5, ip_limit: int = 20
    ):
        self.client, self.window = client, window
        self.author_limit, self.ip_limit = author_limit, ip_limit

    def observe(self, posting: Posting) -> list[Reason]:
        """Remember ``posting`` and return the repetition and burst reasons it triggers."""
        site, own, t = f"{PREFIX}:{posting.site_id}", str(posting.comment_id), posting.posted_at
        copies: list[Reason] = []
        pipe = self.client.pipeline()
        if posting.signature is not None:
            bands = [f"{site}:band:{key}" for key in band_keys(posting.signature)]
            for band in bands:
                pipe.zrevrangebyscore(band, t + self.window, t - self.window, start=0, num=CANDIDATES)
            candidates = {int(m) for found in pipe.execute() for m in found} - {posting.comment_id}
            latest = sorted(candidates, reverse=True)[:CANDIDATES]
            copies = self._copies(site, posting.signature, posting.author, [str(c) for c in latest])
            comment_key = f"{site}:c:{own}"
            pipe.hset(
                comment_key,
                mapping={"sig": posting.signature, "author": posting.author, "article": posting.article},
            )
            pipe.expire(comment_key, int(self.window * 2))
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

    def _copies(self, site: str, sig: bytes, author_id: str, candidates: list[str]) -> list[Reason]:
        if not candidates:
            return []
        pipe = self.client.pipeline()
        for cid in candidates:
            pipe.hmget(f"{site}:c:{cid}", "sig", "author", "article")
        same_author, authors, articles = 0, set[str](), set[str]()
        for other, author, article in pipe.execute():
            if other is None or not similar(other, sig):
                continue
            if author.decode() == author_id:
                same_author += 1
            else:
                authors.add(author.decode())
                articles.add(article.decode())
        minutes = round(self.window / 60)
        reasons = []
        if same_author:
            reasons.append(
                Reason(
                    ReasonCode.REPEATED_BY_AUTHOR,
                    REPEAT_WEIGHT * min(same_author, 3),
                    f"the author posted this text {same_author} more time(s) in {minutes} min",
                    [],
                )
            )
        if authors:
            reasons.append(
                Reason(
                    ReasonCode.COPIED_ACROSS_AUTHORS,
                    COPY_WEIGHT * min(len(authors), 4),
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
                    ReasonCode.AUTHOR_BURST,
                    BURST_WEIGHT,
                    f"{counts[0]} comments from this author in a minute (limit {self.author_limit})",
                    [],
                )
            )
        if len(counts) > 1 and counts[1] > self.ip_limit:
            reasons.append(
                Reason(
                    ReasonCode.IP_BURST,
                    BURST_WEIGHT,
                    f"{counts[1]} comments from this IP address in a minute (limit {self.ip_limit})",
                    [],
                )
            )
        return reasons
