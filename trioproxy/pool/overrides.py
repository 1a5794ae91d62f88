"""Runtime overrides of a key's `weight` and `priority`, set through the admin API.

They are kept apart from keys.yaml: the key's `configured` spec is what the file says,
its `spec` is what the pool uses (the file's values with the overrides applied), and a
reload of the file keeps the overrides. They are persisted with the key's state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from trioproxy.config.model import KeySpec


@dataclass(frozen=True, slots=True)
class Override:
    weight: float | None = None
    priority: int | None = None

    def apply(self, spec: KeySpec) -> KeySpec:
        return replace(
            spec,
            weight=spec.weight if self.weight is None else self.weight,
            priority=spec.priority if self.priority is None else self.priority,
        )

    def __bool__(self) -> bool:
        return self.weight is not None or self.priority is not None
