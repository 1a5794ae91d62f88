"""The model catalogue: more than one page of models, so `models.list` pagination is real."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

GENERATE = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
EMBED = ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"]
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ModelInfo:
    id: str
    display_name: str
    kind: str  # g3, g25, g25lite, g20, gemma, embed, tts, image, video, live, aqa
    methods: tuple[str, ...]
    input_limit: int
    output_limit: int
    version: str
    embedding_dims: int = 0

    @property
    def can_think(self) -> bool:
        return self.kind in ("g3", "g25", "g25lite")

    @property
    def thinks_by_default(self) -> bool:
        # Flash-Lite supports thinking but has it off unless a budget is given.
        return self.kind in ("g3", "g25")

    @property
    def must_think(self) -> bool:
        # "you can't disable thinking on pro models" (cookbook); Gemini 3 cannot either.
        return self.kind == "g3" or (self.kind == "g25" and "-pro" in self.id)

    @property
    def gemini3(self) -> bool:
        return self.id.startswith("gemini-3")

    def supports(self, rpc: str) -> bool:
        base = {"streamGenerateContent": "generateContent", "batchEmbedContents": "embedContent"}
        return base.get(rpc, rpc) in self.methods

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": f"models/{self.id}",
            "version": self.version,
            "displayName": self.display_name,
            "description": self.display_name,
            "inputTokenLimit": self.input_limit,
            "outputTokenLimit": self.output_limit,
            "supportedGenerationMethods": list(self.methods),
        }
        if self.kind in ("g3", "g25", "g25lite", "g20", "gemma", "tts"):
            out.update(temperature=1, topP=0.95, topK=40 if self.kind == "g20" else 64)
            out["maxTemperature"] = 2
        if self.can_think:
            out["thinking"] = True
        return out


def _title(model_id: str) -> str:
    words = model_id.replace("gemini", "Gemini").replace("gemma", "Gemma").split("-")
    return " ".join(w if w[:1].isupper() else w.capitalize() for w in words)


_SPEC: dict[str, tuple[tuple[str, ...], int, int]] = {
    "g3": (tuple(GENERATE), 1048576, 65536),
    "g25": (tuple(GENERATE), 1048576, 65536),
    "g25lite": (tuple(GENERATE), 1048576, 65536),
    "g20": (tuple(GENERATE), 1048576, 8192),
    "gemma": (("generateContent", "countTokens"), 32768, 8192),
    "embed": (tuple(EMBED), 2048, 1),
    "tts": (("countTokens", "generateContent"), 8192, 16384),
    "image": (("predict",), 480, 8192),
    "video": (("predictLongRunning",), 480, 8192),
    "live": (("bidiGenerateContent",), 131072, 8192),
    "aqa": (("generateAnswer",), 7168, 1024),
}

_MODELS: list[tuple[str, str]] = [
    ("gemini-2.5-flash", "g25"),
    ("gemini-2.5-pro", "g25"),
    ("gemini-2.5-flash-lite", "g25lite"),
    ("gemini-2.0-flash", "g20"),
    ("gemini-2.0-flash-001", "g20"),
    ("gemini-2.0-flash-exp", "g20"),
    ("gemini-2.0-flash-lite", "g20"),
    ("gemini-2.0-flash-lite-001", "g20"),
    ("gemini-2.0-flash-lite-preview", "g20"),
    ("gemini-2.0-flash-lite-preview-02-05", "g20"),
    ("gemini-2.0-flash-thinking-exp", "g20"),
    ("gemini-2.0-flash-thinking-exp-01-21", "g20"),
    ("gemini-2.0-flash-thinking-exp-1219", "g20"),
    ("gemini-2.0-pro-exp", "g20"),
    ("gemini-2.0-pro-exp-02-05", "g20"),
    ("gemini-exp-1206", "g20"),
    ("gemini-2.5-flash-preview-05-20", "g25"),
    ("gemini-2.5-flash-preview-09-2025", "g25"),
    ("gemini-2.5-flash-lite-preview-06-17", "g25lite"),
    ("gemini-2.5-flash-lite-preview-09-2025", "g25lite"),
    ("gemini-2.5-pro-preview-03-25", "g25"),
    ("gemini-2.5-pro-preview-05-06", "g25"),
    ("gemini-2.5-pro-preview-06-05", "g25"),
    ("gemini-2.5-flash-preview-tts", "tts"),
    ("gemini-2.5-pro-preview-tts", "tts"),
    ("gemini-2.5-flash-image", "g20"),
    ("gemini-2.5-flash-image-preview", "g20"),
    ("gemini-2.5-computer-use-preview-10-2025", "g25"),
    ("gemini-3-pro-preview", "g3"),
    ("gemini-3-flash-preview", "g3"),
    ("gemini-3-pro-image-preview", "g3"),
    ("gemini-3.1-pro-preview", "g3"),
    ("gemini-3.1-flash-lite-preview", "g3"),
    ("gemini-flash-latest", "g25"),
    ("gemini-flash-lite-latest", "g25lite"),
    ("gemini-pro-latest", "g25"),
    ("gemini-robotics-er-1.5-preview", "g25"),
    ("learnlm-2.0-flash-experimental", "g20"),
    ("gemma-3-1b-it", "gemma"),
    ("gemma-3-4b-it", "gemma"),
    ("gemma-3-12b-it", "gemma"),
    ("gemma-3-27b-it", "gemma"),
    ("gemma-3n-e2b-it", "gemma"),
    ("gemma-3n-e4b-it", "gemma"),
    ("gemini-2.5-flash-native-audio-latest", "live"),
    ("gemini-2.5-flash-native-audio-preview-09-2025", "live"),
    ("gemini-live-2.5-flash-preview", "live"),
    ("gemini-2.0-flash-live-001", "live"),
    ("embedding-gecko-001", "embed"),
    ("embedding-001", "embed"),
    ("text-embedding-004", "embed"),
    ("gemini-embedding-exp", "embed"),
    ("gemini-embedding-exp-03-07", "embed"),
    ("gemini-embedding-001", "embed"),
    ("aqa", "aqa"),
    ("imagen-4.0-generate-001", "image"),
    ("imagen-4.0-ultra-generate-001", "image"),
    ("imagen-4.0-fast-generate-001", "image"),
    ("veo-2.0-generate-001", "video"),
    ("veo-3.0-generate-001", "video"),
    ("veo-3.0-fast-generate-001", "video"),
    ("veo-3.1-generate-preview", "video"),
]

_EMBED_DIMS = {"text-embedding-004": 768, "embedding-001": 768, "embedding-gecko-001": 768}


def _version(model_id: str, kind: str) -> str:
    if kind == "g20" and model_id == "gemini-2.0-flash":
        return "2.0"
    if kind == "embed":
        return "001"
    rest = model_id.split("-", 1)[1] if "-" in model_id else model_id
    return rest


def _build() -> list[ModelInfo]:
    out = []
    for model_id, kind in _MODELS:
        methods, input_limit, output_limit = _SPEC[kind]
        out.append(
            ModelInfo(
                id=model_id,
                display_name=_title(model_id),
                kind=kind,
                methods=methods,
                input_limit=input_limit,
                output_limit=output_limit,
                version=_version(model_id, kind),
                embedding_dims=_EMBED_DIMS.get(model_id, 3072) if kind == "embed" else 0,
            )
        )
    return out


MODELS: list[ModelInfo] = _build()
_BY_ID = {m.id: m for m in MODELS}


def lookup(model_id: str) -> ModelInfo | None:
    return _BY_ID.get(model_id.removeprefix("models/"))


def _page_token(index: int) -> str:
    # Shaped like the real token: a proto string field holding the next model's name.
    name = f"models/{MODELS[index].id}".encode()
    return base64.b64encode(b"\n" + bytes([len(name)]) + name).decode()


def _token_index(token: str) -> int | None:
    try:
        raw = base64.b64decode(token, validate=True)
    except ValueError:
        return None
    if len(raw) < 2 or raw[0] != 0x0A or raw[1] != len(raw) - 2:
        return None
    name = raw[2:].decode(errors="replace").removeprefix("models/")
    for i, model in enumerate(MODELS):
        if model.id == name:
            return i
    return None


def list_page(page_size: int | None, page_token: str | None) -> dict[str, Any] | None:
    """One page of `models.list`, or None when the page token is not one we issued."""
    size = DEFAULT_PAGE_SIZE if not page_size or page_size < 0 else min(page_size, MAX_PAGE_SIZE)
    start = 0
    if page_token:
        found = _token_index(page_token)
        if found is None:
            return None
        start = found
    end = start + size
    body: dict[str, Any] = {"models": [m.resource() for m in MODELS[start:end]]}
    if end < len(MODELS):
        body["nextPageToken"] = _page_token(end)
    return body
