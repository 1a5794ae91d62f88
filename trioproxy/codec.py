"""The one JSON encoder of the request path: compact, UTF-8 bytes.

One place, so a faster codec can be swapped in (and measured) in one place.
"""

from __future__ import annotations

import json
from typing import Any

_COMPACT = (",", ":")


def dumps(payload: Any, *, strict: bool = False) -> bytes:
    """Compact UTF-8 JSON.

    JSON text may carry a lone surrogate ("\\ud800") that UTF-8 cannot encode. With
    `strict`, that raises UnicodeEncodeError; without it, the payload is written with ASCII
    escapes instead, so echoing a client's odd input back can never fail.
    """
    try:
        return json.dumps(payload, separators=_COMPACT, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        if strict:
            raise
        return json.dumps(payload, separators=_COMPACT).encode()
