"""A simulated Gemini API upstream for tests, benchmarks and the offline demo.

Serve `SimulatedGemini(keys=[...])` with `trioproxy.serving.serve_app`; script failures with
`sim.faults.add(kind, key=..., ...)`; inspect what the upstream saw with `sim.requests`,
`sim.requests_for(key)`, `sim.count(...)` and `await sim.wait_for(...)`.
"""

from __future__ import annotations

from .app import SimulatedGemini
from .catalog import MODELS, ModelInfo
from .errors import GeminiError
from .faults import FAULT_KINDS, Fault, FaultController
from .records import RequestRecord

__all__ = [
    "FAULT_KINDS",
    "MODELS",
    "Fault",
    "FaultController",
    "GeminiError",
    "ModelInfo",
    "RequestRecord",
    "SimulatedGemini",
]
