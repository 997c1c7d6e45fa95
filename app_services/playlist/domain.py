"""Playlist logic. Writes go through `PlaylistStore.modify`, which locks the playlist row and
hands its head (owner, name, size) to a pure function defined here that checks ownership and
bounds and returns the `Edit` to apply: the store then touches only the rows that change
(an append inserts, a removal deletes one row and closes the gap). Reads are paginated.

Playlists are private unless their owner makes them public: another user's private playlist is
404 (its existence is not confirmed), and no response names the owner (their Cognito `sub`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, Field, model_validator

from ..core.errors import BadRequest, Forbidden, NotFound
from ..core.events import RequestBody

MAX_TRACKS = 10_000
PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 500


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]


class NewPlaylist(RequestBody):
    name: Name
    public: bool = Field(False, description="readable by every signed-in user; default private")


class PlaylistPatch(RequestBody):
    name: Name | None = None
    public: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> PlaylistPatch:
        if self.name is None and self.public is None:
            raise ValueError("give name or public")
        return self


class AddTracks(RequestBody):
    track_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    position: int | None = Field(None, ge=0, description="insert before; default: append")


class PageQuery(BaseModel):
    limit: int = Field(PAGE_LIMIT, ge=1, le=MAX_PAGE_LIMIT)
    cursor: int = Field(0, ge=0, le=MAX_TRACKS, description="position of the page's first track")


class MoveTrack(RequestBody):
    from_position: int = Field(ge=0)
    to_position: int = Field(ge=0)


@dataclass(frozen=True)
class Owner:
    """The signed-in user: Cognito `sub`, and the name their profile row gets if it is missing."""

    user_id: str
    display_name: str


@dataclass(frozen=True)
class Head:
    """A playlist as the change functions see it (locked for the transaction)."""

    owner_id: str
    name: str
    public: bool
    size: int


@dataclass(frozen=True)
class Edit:
    """What a write changes: the head (`name`, `public`) and/or the entries.

    `insert` puts `track_ids` before position `at`; `remove` deletes the entry at `at`; `move`
    moves the entry at `at` to `to`. Positions stay dense (0..size-1).
    """

    name: str | None = None
    public: bool | None = None
    op: str | None = None  # "insert" | "remove" | "move"
    at: int = 0
    to: int = 0
    track_ids: tuple[str, ...] = ()


Change = Callable[[Head], Edit]


class PlaylistStore(Protocol):
    def create(self, owner: Owner, name: str, public: bool) -> dict[str, Any]: ...
    def head(self, playlist_id: str) -> dict[str, Any] | None: ...
    def page(self, playlist_id: str, start: int, limit: int) -> list[dict[str, Any]]: ...
    def list_for_owner(self, owner_id: str) -> list[dict[str, Any]]: ...
    def modify(self, playlist_id: str, change: Change) -> str: ...
    def delete(self, playlist_id: str, owner_id: str) -> None: ...
    def owner_of(self, playlist_id: str) -> tuple[str, bool] | None: ...


class CacheLike(Protocol):
    def get_or_load(self, key: str, load: Any, ttl: int | None = None) -> Any: ...
    def get_or_load_field(self, key: str, field: str, load: Any, ttl: int | None = None) -> Any: ...
    def delete(self, *keys: str) -> None: ...


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadRequest("playlist_id: not a valid id", field="playlist_id") from None


def _owned_by(user_id: str, owner_id: str, public: bool, ident: str) -> None:
    """Forbidden on a public playlist of someone else; NotFound on a private one."""
    if owner_id != user_id:
        if public:
            raise Forbidden("only the playlist's owner may change it")
        raise NotFound(f"playlist {ident} does not exist")


def _position(value: int, size: int, field: str) -> int:
    if value >= size:
        raise BadRequest(f"{field}: {value} is past the end ({size} tracks)", field=field)
    return value


# A write deletes the keys it changed after it commits; `Cache.delete` versions them, so a read
# that loaded before the write cannot put its stale value back (concurrent adds once left a
# playlist's cached length one short until the TTL).


def _playlist(playlist_id: str) -> str:
    return f"playlist:{playlist_id}"


def _pages(playlist_id: str) -> str:
    return f"playlist:{playlist_id}:pages"


def _owned(owner_id: str) -> str:
    return f"playlists:owner:{owner_id}"


def _invalidate(cache: CacheLike, playlist_id: str, owner_id: str) -> None:
    cache.delete(_playlist(playlist_id), _pages(playlist_id), _owned(owner_id))


def create(
    store: PlaylistStore, cache: CacheLike, owner: Owner, body: NewPlaylist
) -> dict[str, Any]:
    """A new playlist; a signed-in user without a profile row (sign-up trigger not run, local
    runs) gets one, named from the token, in the same transaction."""
    created = store.create(owner, body.name, body.public)
    cache.delete(_owned(owner.user_id))
    shown = {k: v for k, v in created.items() if k != "owner_id"}
    return {**shown, "mine": True, "total_tracks": 0, "tracks": [], "next": None}


def get(
    store: PlaylistStore,
    cache: CacheLike,
    user_id: str,
    playlist_id: str,
    page: PageQuery | None = None,
) -> dict[str, Any]:
    """One page of the playlist if it is the caller's or public (404 otherwise): its head,
    `total_tracks`, the entries from position `cursor`, and `next` (the next page's path)."""
    ident, page = _uuid(playlist_id), page or PageQuery()
    head = cache.get_or_load(_playlist(ident), lambda: store.head(ident))
    if head is None or (head["owner_id"] != user_id and not head.get("public")):
        raise NotFound(f"playlist {ident} does not exist")
    tracks = cache.get_or_load_field(
        _pages(ident),
        f"{page.cursor}:{page.limit}",
        lambda: store.page(ident, page.cursor, page.limit),
    )
    after = page.cursor + len(tracks)
    more = after < head["total_tracks"] and len(tracks) == page.limit
    shown = {k: v for k, v in head.items() if k != "owner_id"}
    return {
        **shown,
        "mine": head["owner_id"] == user_id,
        "tracks": tracks,
        "next": f"/playlists/{ident}?cursor={after}&limit={page.limit}" if more else None,
    }


def mine(store: PlaylistStore, cache: CacheLike, user_id: str) -> list[dict[str, Any]]:
    return list(cache.get_or_load(_owned(user_id), lambda: store.list_for_owner(user_id)))


def _write(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, change: Change
) -> dict[str, Any]:
    ident = _uuid(playlist_id)

    def guarded(head: Head) -> Edit:
        _owned_by(user_id, head.owner_id, head.public, ident)
        return change(head)

    owner = store.modify(ident, guarded)
    _invalidate(cache, ident, owner)
    return get(store, cache, user_id, ident)


def update(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: PlaylistPatch
) -> dict[str, Any]:
    """Rename and/or change who may read it."""
    edit = Edit(name=body.name, public=body.public)
    return _write(store, cache, user_id, playlist_id, lambda head: edit)


def add_tracks(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: AddTracks
) -> dict[str, Any]:
    def change(head: Head) -> Edit:
        at = head.size if body.position is None else body.position
        if at > head.size:
            raise BadRequest(f"position: {at} is past the end", field="position")
        if head.size + len(body.track_ids) > MAX_TRACKS:
            raise BadRequest(f"track_ids: a playlist holds at most {MAX_TRACKS}", field="track_ids")
        return Edit(op="insert", at=at, track_ids=tuple(str(t) for t in body.track_ids))

    return _write(store, cache, user_id, playlist_id, change)


def remove_track(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, position: int
) -> dict[str, Any]:
    def change(head: Head) -> Edit:
        return Edit(op="remove", at=_position(position, head.size, "position"))

    return _write(store, cache, user_id, playlist_id, change)


def move_track(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: MoveTrack
) -> dict[str, Any]:
    def change(head: Head) -> Edit:
        at = _position(body.from_position, head.size, "from_position")
        return Edit(op="move", at=at, to=_position(body.to_position, head.size, "to_position"))

    return _write(store, cache, user_id, playlist_id, change)


def delete(store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str) -> None:
    ident = _uuid(playlist_id)
    found = store.owner_of(ident)
    if found is None:
        raise NotFound(f"playlist {ident} does not exist")
    owner, public = found
    _owned_by(user_id, owner, public, ident)
    store.delete(ident, user_id)
    _invalidate(cache, ident, owner)
