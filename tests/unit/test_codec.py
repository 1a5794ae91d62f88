from __future__ import annotations

import json

import pytest

from trioproxy.codec import dumps


def test_compact_utf8() -> None:
    assert dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


def test_lone_surrogate_falls_back_to_escapes_unless_strict() -> None:
    encoded = dumps({"model": "x\ud800"})
    assert encoded == b'{"model":"x\\ud800"}'
    assert json.loads(encoded) == {"model": "x\ud800"}
    with pytest.raises(UnicodeEncodeError):
        dumps({"model": "x\ud800"}, strict=True)
