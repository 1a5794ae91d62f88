"""OpenAI media content parts (`image_url`, `input_audio`, `file`) -> Gemini parts (pure).

- Media must be inline: base64 data URLs -> `inlineData`; Gemini Files API URIs ->
  `fileData`. The gateway does not fetch http(s) URLs.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from typing import Any

from trioproxy.errors import InvalidRequest
from trioproxy.providers.gemini.fields import string

_FILES_URI = re.compile(r"https://generativelanguage\.googleapis\.com/[\w./-]*files/[\w.-]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_AUDIO_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mp3",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "aiff": "audio/aiff",
}


def media_url(url: str, at: str) -> dict[str, Any]:
    if url.startswith("data:"):
        return _data_url(url, at)
    if _FILES_URI.fullmatch(url):
        return {"fileData": {"fileUri": url}}
    raise InvalidRequest(
        f"Unsupported URL in '{at}': fetching http(s) URLs is not supported; send the media "
        "inline as a base64 data URL (data:<mime>;base64,...) or as a Gemini Files API URI.",
        param=at,
    )


def _data_url(url: str, at: str) -> dict[str, Any]:
    header, _, data = url[len("data:") :].partition(",")
    mime, *params = header.split(";")
    if "base64" not in params or "/" not in mime:
        raise InvalidRequest(
            f"'{at}' must be a base64 data URL of the form data:<mime>;base64,<data>.", param=at
        )
    return _inline(mime.strip().lower(), data, at)


def _inline(mime: str, data: str, at: str) -> dict[str, Any]:
    if not _BASE64.fullmatch(data):
        raise InvalidRequest(f"'{at}' does not hold valid base64 data.", param=at)
    return {"inlineData": {"mimeType": mime, "data": data}}


def audio(audio: object, at: str) -> dict[str, Any]:
    if not isinstance(audio, Mapping):
        raise InvalidRequest(f"'{at}' must be an object with data and format.", param=at)
    fmt = audio.get("format")
    if fmt not in _AUDIO_MIME:
        raise InvalidRequest(
            f"'{at}.format' must be one of {', '.join(_AUDIO_MIME)}.", param=f"{at}.format"
        )
    return _inline(_AUDIO_MIME[fmt], string(audio, "data", at), f"{at}.data")


def file(file: object, at: str) -> dict[str, Any]:
    if not isinstance(file, Mapping):
        raise InvalidRequest(f"'{at}' must be an object.", param=at)
    file_data, file_id = file.get("file_data"), file.get("file_id")
    if isinstance(file_data, str) and file_data.startswith("data:"):
        return _data_url(file_data, f"{at}.file_data")
    if isinstance(file_data, str) and file_data:
        filename = file.get("filename")
        mime = mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None
        if mime is None:
            raise InvalidRequest(
                f"'{at}.file_data' must be a data URL, or 'filename' must reveal its type.",
                param=f"{at}.file_data",
            )
        return _inline(mime, file_data, f"{at}.file_data")
    if isinstance(file_id, str) and _FILES_URI.fullmatch(file_id):
        return {"fileData": {"fileUri": file_id}}
    raise InvalidRequest(
        f"'{at}' needs 'file_data' as a base64 data URL ('file_id' is supported only as a "
        "Gemini Files API URI).",
        param=at,
    )
