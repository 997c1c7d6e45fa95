"""Playlist logic. Writes go through `PlaylistStore.modify`, which locks the playlist row and
hands its current state to a pure change function defined here (ownership check + list edit).

Playlists are private unless their owner makes them public: another user's private playlist is
404 (its existence is not confirmed), and no response names the owner (their Cognito `sub`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, Field, model_validator

from app_services.core.errors import BadRequest, Forbidden, NotFound
from app_services.core.events import RequestBody

MAX_TRACKS = 10_000


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


class MoveTrack(RequestBody):
    from_position: int = Field(ge=0)
    to_position: int = Field(ge=0)


@dataclass(frozen=True)
class Owner:
    """The signed-in user: Cognito `sub`, and the name their profile row gets if it is missing."""

    user_id: str
    display_name: str


@dataclass(frozen=True)
class State:
    """A playlist as the change functions see it (locked for the transaction)."""

    owner_id: str
    name: str
    track_ids: list[str]
    public: bool = False


Change = Callable[[State], State]


class PlaylistStore(Protocol):
    def create(self, owner: Owner, name: str, public: bool) -> dict[str, Any]: ...
    def get(self, playlist_id: str) -> dict[str, Any] | None: ...
    def list_for_owner(self, owner_id: str) -> list[dict[str, Any]]: ...
    def modify(self, playlist_id: str, change: Change) -> str: ...
    def delete(self, playlist_id: str, owner_id: str) -> None: ...
    def owner_of(self, playlist_id: str) -> tuple[str, bool] | None: ...


class CacheLike(Protocol):
    def get_or_load(self, key: str, load: Any, ttl: int | None = None) -> Any: ...
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


def _view(found: dict[str, Any], user_id: str) -> dict[str, Any]:
    """What a reader sees: the playlist without its owner's id, and whether it is theirs."""
    shown = {k: v for k, v in found.items() if k != "owner_id"}
    return {**shown, "mine": found["owner_id"] == user_id}


def _position(value: int, size: int, field: str) -> int:
    if value >= size:
        raise BadRequest(f"{field}: {value} is past the end ({size} tracks)", field=field)
    return value


def _keys(playlist_id: str, owner_id: str) -> tuple[str, str]:
    return f"playlist:{playlist_id}", f"playlists:owner:{owner_id}"


def create(
    store: PlaylistStore, cache: CacheLike, owner: Owner, body: NewPlaylist
) -> dict[str, Any]:
    """A new playlist; a signed-in user without a profile row (sign-up trigger not run, local
    runs) gets one, named from the token, in the same transaction."""
    created = store.create(owner, body.name, body.public)
    cache.delete(f"playlists:owner:{owner.user_id}")
    return _view(created, owner.user_id)


def get(store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str) -> dict[str, Any]:
    """The playlist if it is the caller's or public; 404 otherwise."""
    ident = _uuid(playlist_id)
    found = cache.get_or_load(f"playlist:{ident}", lambda: store.get(ident))
    if found is None or (found["owner_id"] != user_id and not found.get("public")):
        raise NotFound(f"playlist {ident} does not exist")
    return _view(dict(found), user_id)


def mine(store: PlaylistStore, cache: CacheLike, user_id: str) -> list[dict[str, Any]]:
    return list(
        cache.get_or_load(f"playlists:owner:{user_id}", lambda: store.list_for_owner(user_id))
    )


def _write(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, change: Change
) -> dict[str, Any]:
    ident = _uuid(playlist_id)

    def guarded(state: State) -> State:
        _owned_by(user_id, state.owner_id, state.public, ident)
        return change(state)

    owner = store.modify(ident, guarded)
    cache.delete(*_keys(ident, owner))
    return get(store, cache, user_id, ident)


def update(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: PlaylistPatch
) -> dict[str, Any]:
    """Rename and/or change who may read it."""

    def change(s: State) -> State:
        public = s.public if body.public is None else body.public
        return replace(s, name=body.name or s.name, public=public)

    return _write(store, cache, user_id, playlist_id, change)


def add_tracks(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: AddTracks
) -> dict[str, Any]:
    def change(state: State) -> State:
        at = len(state.track_ids) if body.position is None else body.position
        if at > len(state.track_ids):
            raise BadRequest(f"position: {at} is past the end", field="position")
        ids = [str(t) for t in body.track_ids]
        merged = state.track_ids[:at] + ids + state.track_ids[at:]
        if len(merged) > MAX_TRACKS:
            raise BadRequest(f"track_ids: a playlist holds at most {MAX_TRACKS}", field="track_ids")
        return replace(state, track_ids=merged)

    return _write(store, cache, user_id, playlist_id, change)


def remove_track(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, position: int
) -> dict[str, Any]:
    def change(state: State) -> State:
        at = _position(position, len(state.track_ids), "position")
        return replace(state, track_ids=state.track_ids[:at] + state.track_ids[at + 1 :])

    return _write(store, cache, user_id, playlist_id, change)


def move_track(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: MoveTrack
) -> dict[str, Any]:
    def change(state: State) -> State:
        ids = list(state.track_ids)
        moved = ids.pop(_position(body.from_position, len(ids), "from_position"))
        ids.insert(_position(body.to_position, len(ids) + 1, "to_position"), moved)
        return replace(state, track_ids=ids)

    return _write(store, cache, user_id, playlist_id, change)


def delete(store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str) -> None:
    ident = _uuid(playlist_id)
    found = store.owner_of(ident)
    if found is None:
        raise NotFound(f"playlist {ident} does not exist")
    owner, public = found
    _owned_by(user_id, owner, public, ident)
    store.delete(ident, user_id)
    cache.delete(*_keys(ident, owner))
