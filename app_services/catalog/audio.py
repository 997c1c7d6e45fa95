"""Read an audio file's tags, duration and cover art with mutagen (MP3, FLAC, Ogg, Opus, M4A)."""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import mutagen
from mutagen.flac import FLAC, Picture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from ..core.errors import BadRequest
from .domain import AudioMetadata, Cover

FORMATS = {
    "MP3": "mp3",
    "EasyMP3": "mp3",
    "FLAC": "flac",
    "OggVorbis": "vorbis",
    "OggOpus": "opus",
    "MP4": "m4a",
    "EasyMP4": "m4a",
}


_DIGITS = re.compile(r"[0-9]{1,12}")


def _first(tags: Any, name: str) -> str | None:
    try:
        values = tags.get(name) if tags is not None else None
    except (KeyError, ValueError):
        return None
    value = str(values[0]).strip() if values else ""
    return value or None


def _number(text: str | None) -> int | None:
    """`"3"` or `"3/12"` → 3; anything else (`"²"`, which `isdigit()` accepts) → None."""
    head = (text or "").split("/")[0].strip()
    return int(head) if _DIGITS.fullmatch(head) and int(head) > 0 else None


#: Image types a cover may be, told by the first bytes (never by the tag's claimed type: covers
#: are served unsigned from the media domain, so a tag saying `text/html` must not make one).
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes) -> str | None:
    """The image type of `data` from its signature: PNG, JPEG, GIF or WebP (None: anything else)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if data.startswith(magic)), None)


def _cover(path: str, kind: str) -> Cover | None:
    """The embedded cover art, typed by its content; None when absent or not an image."""
    found = _embedded_picture(path, kind)
    mime = image_type(found) if found else None
    return Cover(found, mime) if found and mime else None


def _embedded_picture(path: str, kind: str) -> bytes | None:
    if kind == "mp3":
        try:
            pictures = ID3(path).getall("APIC")
        except mutagen.MutagenError:
            return None
        return bytes(pictures[0].data) if pictures else None
    if kind == "flac":
        found = FLAC(path).pictures
        return bytes(found[0].data) if found else None
    if kind == "m4a":
        tags: Any = MP4(path).tags
        covers = (tags.get("covr") if tags is not None else None) or []
        if not covers:
            return None
        return bytes(covers[0])
    audio = mutagen.File(path)
    blocks = (audio.get("metadata_block_picture") if audio is not None else None) or []
    if not blocks:
        return None
    return bytes(Picture(base64.b64decode(blocks[0])).data)


def read_metadata(path: str, original_name: str) -> AudioMetadata:
    """The catalog metadata of the audio file at `path` (400 if it is not a supported format).

    Missing tags fall back to what a listener would see: the file name as title, "Unknown
    artist", "Unknown album".
    """
    try:
        audio = mutagen.File(path, easy=True)
    except mutagen.MutagenError:
        audio = None
    kind = FORMATS.get(type(audio).__name__) if audio is not None else None
    if audio is None or kind is None or not audio.info or not audio.info.length:
        raise BadRequest(
            f"{original_name}: not a readable MP3, FLAC, Ogg, Opus or M4A file", field="object"
        )
    tags = audio.tags
    stem = os.path.splitext(os.path.basename(original_name))[0]
    year = _number((_first(tags, "date") or "")[:4])
    return AudioMetadata(
        title=_first(tags, "title") or stem,
        artist=_first(tags, "artist") or _first(tags, "albumartist") or "Unknown artist",
        album=_first(tags, "album") or "Unknown album",
        album_artist=_first(tags, "albumartist"),
        track_number=_number(_first(tags, "tracknumber")),
        disc_number=_number(_first(tags, "discnumber")),
        year=year if year and 1000 <= year <= 9999 else None,
        genre=_first(tags, "genre"),
        duration_ms=round(audio.info.length * 1000),
        audio_format=kind,
        cover=_cover(path, kind),
    )
