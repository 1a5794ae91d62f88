"""Repository-wide guards: lint, types and module size are part of the test suite, so CI
fails on them exactly as it fails on behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]
# A module past this many lines needs splitting (or a reason written here).
LINE_BUDGET = 400


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", "trioproxy", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run("ruff", "format", "--check", "trioproxy", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_modules_stay_small() -> None:
    sizes = {
        path: len(path.read_text().splitlines()) for path in (REPO / "trioproxy").rglob("*.py")
    }
    too_big = {str(p.relative_to(REPO)): n for p, n in sizes.items() if n > LINE_BUDGET}
    assert not too_big, f"modules over {LINE_BUDGET} lines: {too_big}"
