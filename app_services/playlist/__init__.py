"""Playlist: create, rename, add/remove/reorder tracks, delete; owner-only writes, cached reads."""
