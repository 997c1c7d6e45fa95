"""Recommendations: item-to-item co-listening, "because you listened to", genre cold start.

Signals come from the activity stream (plays of at least 30 s and likes). Two tracks are similar
when the same users listen to both: cosine similarity over listeners,
`together / sqrt(listeners(a) * listeners(b))`, so a track everybody plays does not swamp the
list. A user with fewer than `MIN_HISTORY` tracks gets popular tracks from the genres they
picked. Results are cached (cache-aside) and the user's entry is dropped whenever their
preferences or listening history change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import Field, field_validator

from ..core.events import RequestBody

if TYPE_CHECKING:
    from ..activity.domain import ActivityEvent

MIN_HISTORY = 3  # below this, co-listening is noise: use the picked genres
SEEDS = 3  # "because you listened to" groups
PER_SEED = 10
FOR_YOU = 20
MIN_PLAY_MS = 30_000  # a play shorter than this is a skip, not a signal
LIKE_WEIGHT = 3
MAX_GENRES = 10
GENRE = re.compile(r"^[a-z0-9][a-z0-9 &'-]{0,39}$")
CACHE_TTL_SECONDS = 900
CACHE_VERSION = "v1"
T = TypeVar("T")


@dataclass(frozen=True)
class CoListen:
    """How many users listened to both `seed` and `candidate`, and to each alone."""

    seed: str
    candidate: str
    together: int
    seed_listeners: int
    candidate_listeners: int


@dataclass(frozen=True)
class Scored:
    track_id: str
    score: float


@dataclass(frozen=True)
class Because:
    seed_track_id: str
    tracks: list[Scored]


@dataclass(frozen=True)
class Recommendations:
    user_id: str
    source: str  # "co_listening" or "cold_start"
    because_you_listened_to: list[Because] = field(default_factory=list)
    for_you: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recommendations:
        return cls(
            user_id=data["user_id"],
            source=data["source"],
            because_you_listened_to=[
                Because(b["seed_track_id"], [Scored(**t) for t in b["tracks"]])
                for b in data["because_you_listened_to"]
            ],
            for_you=list(data["for_you"]),
        )


class PreferenceStore(Protocol):
    def genres(self, user_id: str) -> list[str]: ...

    def set_genres(self, user_id: str, genres: Sequence[str]) -> None: ...

    def add_signal(self, user_id: str, track_id: str, weight: int) -> None:
        """Add `weight` to the user's affinity for a track (creating it)."""
        ...

    def history(self, user_id: str, limit: int) -> list[tuple[str, int]]:
        """The user's tracks with their weight, strongest first."""
        ...

    def co_listens(self, seeds: Sequence[str], limit: int) -> list[CoListen]:
        """Up to `limit` co-listened candidates per seed track."""
        ...

    def popular(self, genres: Sequence[str], limit: int) -> list[str]:
        """Tracks with the most listeners, in any of `genres` (any genre when empty)."""
        ...


class Cache(Protocol):
    """Cache-aside with JSON values (app_services.core.cache.Cache on Redis)."""

    def get_or_load(self, key: str, load: Callable[[], T], ttl: int | None = None) -> T: ...

    def delete(self, *keys: str) -> None: ...


class GenresBody(RequestBody):
    """The genres a user picked: 1..10 names, normalised to lower case, duplicates dropped."""

    genres: list[str] = Field(min_length=1, max_length=MAX_GENRES)

    @field_validator("genres")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        names: list[str] = []
        for item in value:
            name = item.strip().lower()
            if not GENRE.match(name):
                raise ValueError(f"{item!r} is not a genre name (letters, digits, space, &'-)")
            if name not in names:
                names.append(name)
        return names


def rank_similar(pairs: Iterable[CoListen], exclude: set[str], limit: int) -> list[Scored]:
    """Candidates by cosine similarity to their seed, best first, ties by track id."""
    best: dict[str, float] = {}
    for pair in pairs:
        if pair.candidate in exclude or pair.candidate == pair.seed:
            continue
        denominator = math.sqrt(pair.seed_listeners * pair.candidate_listeners)
        score = pair.together / denominator if denominator else 0.0
        best[pair.candidate] = max(score, best.get(pair.candidate, 0.0))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return [Scored(track, round(score, 6)) for track, score in ranked[:limit]]


def blend(groups: Sequence[Because], weights: Mapping[str, int], limit: int) -> list[str]:
    """One list from the seed groups: a candidate's score is summed over seeds, by seed weight."""
    total: dict[str, float] = {}
    for group in groups:
        for item in group.tracks:
            total[item.track_id] = total.get(item.track_id, 0.0) + item.score * weights.get(
                group.seed_track_id, 1
            )
    return [t for t, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]


def user_key(user_id: str) -> str:
    return f"rec:{CACHE_VERSION}:user:{user_id}"


def similar_key(track_id: str) -> str:
    return f"rec:{CACHE_VERSION}:similar:{track_id}"


@dataclass(frozen=True)
class Recommender:
    store: PreferenceStore
    cache: Cache

    def for_user(self, user_id: str) -> Recommendations:
        """Cache-aside: a cached result, or computed and cached."""
        cached = self.cache.get_or_load(
            user_key(user_id), lambda: self.compute(user_id).to_json(), CACHE_TTL_SECONDS
        )
        return Recommendations.from_json(cached)

    def compute(self, user_id: str) -> Recommendations:
        history = self.store.history(user_id, limit=500)
        heard = {track for track, _ in history}
        if len(history) < MIN_HISTORY:
            return self._cold_start(user_id, heard)
        seeds = history[:SEEDS]
        pairs = self.store.co_listens([t for t, _ in seeds], limit=PER_SEED * 20)
        groups = []
        for seed, _ in seeds:
            tracks = rank_similar((p for p in pairs if p.seed == seed), heard, PER_SEED)
            if tracks:
                groups.append(Because(seed, tracks))
        for_you = blend(groups, dict(seeds), FOR_YOU)
        if len(for_you) < FOR_YOU:
            fill = self._popular(user_id, heard | set(for_you), FOR_YOU - len(for_you))
            for_you += fill
        return Recommendations(user_id, "co_listening", groups, for_you)

    def similar(self, track_id: str) -> list[Scored]:
        """Tracks most co-listened with `track_id` (cached; expires, not invalidated)."""

        def load() -> list[dict[str, Any]]:
            pairs = self.store.co_listens([track_id], PER_SEED * 5)
            return [asdict(t) for t in rank_similar(pairs, set(), PER_SEED)]

        cached = self.cache.get_or_load(similar_key(track_id), load, CACHE_TTL_SECONDS)
        return [Scored(**t) for t in cached]

    def set_genres(self, user_id: str, body: GenresBody) -> list[str]:
        """Replace the user's picked genres and drop their cached recommendations."""
        self.store.set_genres(user_id, body.genres)
        self.cache.delete(user_key(user_id))
        return body.genres

    def ingest(self, events: Iterable[ActivityEvent]) -> int:
        """Turn activity into signals; returns how many were kept. Invalidates touched users."""
        touched: set[str] = set()
        kept = 0
        for event in events:
            weight = signal_weight(event)
            if weight:
                self.store.add_signal(event.user_id, event.target_id, weight)
                touched.add(event.user_id)
                kept += 1
        if touched:
            self.cache.delete(*(user_key(u) for u in sorted(touched)))
        return kept

    def _cold_start(self, user_id: str, heard: set[str]) -> Recommendations:
        return Recommendations(user_id, "cold_start", [], self._popular(user_id, heard, FOR_YOU))

    def _popular(self, user_id: str, exclude: set[str], limit: int) -> list[str]:
        genres = self.store.genres(user_id)
        candidates = self.store.popular(genres, limit + len(exclude))
        return [t for t in candidates if t not in exclude][:limit]


def signal_weight(event: ActivityEvent) -> int:
    """1 for a real play, LIKE_WEIGHT for a like, 0 for skips and follows."""
    if event.kind == "like":
        return LIKE_WEIGHT
    if event.kind == "play" and (event.ms_played or 0) >= MIN_PLAY_MS:
        return 1
    return 0
