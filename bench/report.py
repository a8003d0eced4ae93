"""Percentiles, the printed table and the latency chart of a benchmark run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "count": 0}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(int(share * len(ordered)), len(ordered) - 1)], 1)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
        "count": len(ordered),
    }


def table(steps: list[dict[str, Any]]) -> str:
    header = (
        f"{'offered/s':>9} {'acked/s':>8} {'delivered/s':>11} {'lat p50':>8} {'p95':>7} {'p99':>7} {'max':>7}"
        f" {'assign p50':>10} {'p99':>7} {'lag p50':>8} {'p99':>7} {'errors':>6}"
    )
    lines = [header, "-" * len(header)]
    for s in steps:
        lat, asg, lag = s["latency_ms"], s["assignment_ms"], s["projection_lag_ms"]
        lines.append(
            f"{s['offered_rate']:>9.0f} {s['acknowledged_per_s']:>8.1f} {s['delivered_per_s']:>11.1f}"
            f" {_f(lat['p50'])} {_f(lat['p95'], 7)} {_f(lat['p99'], 7)} {_f(lat['max'], 7)}"
            f" {_f(asg['p50'], 10)} {_f(asg['p99'], 7)} {_f(lag['p50'])} {_f(lag['p99'], 7)} {s['failed']:>6}"
        )
    return "\n".join(lines)


def cpu_table(steps: list[dict[str, Any]]) -> str:
    """CPU milliseconds per acknowledged message for each process, and view documents touched per message."""
    names = sorted({name for s in steps for name in s["cpu_ms_per_message"]})
    header = f"{'offered/s':>9} " + " ".join(f"{name[:12]:>12}" for name in names) + f" {'db docs/msg':>11}"
    lines = ["CPU ms per message, by process", header, "-" * len(header)]
    for s in steps:
        cells = " ".join(f"{s['cpu_ms_per_message'].get(name, 0):>12.2f}" for name in names)
        lines.append(f"{s['offered_rate']:>9.0f} {cells} {s['database_documents_per_message_total']:>11.2f}")
    return "\n".join(lines)


def _f(value: float | None, width: int = 8) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.0f}"


def chart(steps: list[dict[str, Any]], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    offered = [s["offered_rate"] for s in steps]
    figure, axis = plt.subplots(figsize=(8, 5))
    for key in ("p50", "p95", "p99"):
        axis.plot(
            offered, [s["latency_ms"][key] or 0 for s in steps], marker="o", label=f"visitor → agent {key}"
        )
    axis.set_xlabel("offered load (visitor messages / s)")
    axis.set_ylabel("end-to-end latency (ms)")
    axis.set_yscale("log")
    axis.set_title("Parley: visitor post → agent WebSocket receipt")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
