"""An evaluation result as a Markdown table (for people and docs/BENCHMARKS.md) and as JSON (every number)."""
from __future__ import annotations

import json
from pathlib import Path

COLUMNS = ("estimator", "detected", "PA-MPJPE mm", "PA-MPVPE mm", "F@5mm", "F@15mm", "AUC 0-50mm",
           "PCK@0.05 2D", "ms/image")


def markdown_table(result: dict) -> str:
    """The rows of `evaluate()` as a Markdown table; "-" where a metric does not apply."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for r in result["rows"]:
        cells = [r["estimator"], f"{r['detected']}/{r['total']} ({r['detection_rate']:.0%})",
                 _num(r.get("pa_mpjpe_mm"), 1), _num(r.get("pa_mpvpe_mm"), 1), _num(r.get("f5"), 3),
                 _num(r.get("f15"), 3), _num(r.get("auc"), 3), _num(r.get("pck2d"), 3), _num(r.get("ms_per_image"), 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(result: dict, path) -> Path:
    """Write the whole result (rows, PCK curves, per-hand numbers) to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return path


def _num(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
