"""Playlist logic. Writes go through `PlaylistStore.modify`, which locks the playlist row and
hands its current state to a pure change function defined here (ownership check + list edit)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field, field_validator

from app_services.core.errors import BadRequest, Forbidden, NotFound

MAX_TRACKS = 10_000


class NewPlaylist(BaseModel):
    name: str = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class AddTracks(BaseModel):
    track_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    position: int | None = Field(None, ge=0, description="insert before; default: append")


class MoveTrack(BaseModel):
    from_position: int = Field(ge=0)
    to_position: int = Field(ge=0)


@dataclass(frozen=True)
class State:
    """A playlist as the change functions see it (locked for the transaction)."""

    owner_id: str
    name: str
    track_ids: list[str]


Change = Callable[[State], State]


class PlaylistStore(Protocol):
    def create(self, owner_id: str, name: str) -> dict[str, Any]: ...
    def get(self, playlist_id: str) -> dict[str, Any] | None: ...
    def list_for_owner(self, owner_id: str) -> list[dict[str, Any]]: ...
    def modify(self, playlist_id: str, change: Change) -> str: ...
    def delete(self, playlist_id: str, owner_id: str) -> None: ...
    def owner_of(self, playlist_id: str) -> str | None: ...


class CacheLike(Protocol):
    def get_or_load(self, key: str, load: Any, ttl: int | None = None) -> Any: ...
    def delete(self, *keys: str) -> None: ...


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadRequest("playlist_id: not a valid id", field="playlist_id") from None


def _owned_by(user_id: str, state: State) -> None:
    if state.owner_id != user_id:
        raise Forbidden("only the playlist's owner may change it")


def _position(value: int, size: int, field: str) -> int:
    if value >= size:
        raise BadRequest(f"{field}: {value} is past the end ({size} tracks)", field=field)
    return value


def _keys(playlist_id: str, owner_id: str) -> tuple[str, str]:
    return f"playlist:{playlist_id}", f"playlists:owner:{owner_id}"


def create(
    store: PlaylistStore, cache: CacheLike, user_id: str, body: NewPlaylist
) -> dict[str, Any]:
    created = store.create(user_id, body.name)
    cache.delete(f"playlists:owner:{user_id}")
    return created


def get(store: PlaylistStore, cache: CacheLike, playlist_id: str) -> dict[str, Any]:
    ident = _uuid(playlist_id)
    found = cache.get_or_load(f"playlist:{ident}", lambda: store.get(ident))
    if found is None:
        raise NotFound(f"playlist {ident} does not exist")
    return dict(found)


def mine(store: PlaylistStore, cache: CacheLike, user_id: str) -> list[dict[str, Any]]:
    return list(
        cache.get_or_load(f"playlists:owner:{user_id}", lambda: store.list_for_owner(user_id))
    )


def _write(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, change: Change
) -> dict[str, Any]:
    ident = _uuid(playlist_id)

    def guarded(state: State) -> State:
        _owned_by(user_id, state)
        return change(state)

    owner = store.modify(ident, guarded)
    cache.delete(*_keys(ident, owner))
    return get(store, cache, ident)


def rename(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: NewPlaylist
) -> dict[str, Any]:
    return _write(
        store, cache, user_id, playlist_id, lambda s: State(s.owner_id, body.name, s.track_ids)
    )


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
        return State(state.owner_id, state.name, merged)

    return _write(store, cache, user_id, playlist_id, change)


def remove_track(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, position: str
) -> dict[str, Any]:
    if not position.isdigit():
        raise BadRequest("position: must be a non-negative integer", field="position")

    def change(state: State) -> State:
        at = _position(int(position), len(state.track_ids), "position")
        return State(state.owner_id, state.name, state.track_ids[:at] + state.track_ids[at + 1 :])

    return _write(store, cache, user_id, playlist_id, change)


def move_track(
    store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str, body: MoveTrack
) -> dict[str, Any]:
    def change(state: State) -> State:
        ids = list(state.track_ids)
        moved = ids.pop(_position(body.from_position, len(ids), "from_position"))
        ids.insert(_position(body.to_position, len(ids) + 1, "to_position"), moved)
        return State(state.owner_id, state.name, ids)

    return _write(store, cache, user_id, playlist_id, change)


def delete(store: PlaylistStore, cache: CacheLike, user_id: str, playlist_id: str) -> None:
    ident = _uuid(playlist_id)
    owner = store.owner_of(ident)
    if owner is None:
        raise NotFound(f"playlist {ident} does not exist")
    if owner != user_id:
        raise Forbidden("only the playlist's owner may delete it")
    store.delete(ident, user_id)
    cache.delete(*_keys(ident, owner))
