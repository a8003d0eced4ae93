"""Percentiles, Parley ÷ bare, the printed tables and the latency chart of a benchmark run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "count": 0}
    ordered = sorted(values)

    def at(share: float) -> float:
        # Nearest rank: the smallest value at least `share` of the samples do not exceed. (The index
        # int(share * n) was one rank high: with 100 samples it made p99 the slowest one.)
        return round(ordered[max(math.ceil(share * len(ordered)) - 1, 0)], 1)

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


def cpu_table(steps: list[dict[str, Any]], title: str) -> str:
    """CPU milliseconds per acknowledged message for each process, the pipeline's own processes together,
    and (Parley) view documents read and written per message."""
    infrastructure = ("kafka", "ferretdb", "postgres")
    names = sorted(
        {name for s in steps for name in s["cpu_ms_per_message"]} - {"loadgen", *infrastructure}
    ) + [name for name in (*infrastructure, "loadgen") if any(name in s["cpu_ms_per_message"] for s in steps)]
    documents = any("database_documents_per_message_total" in s for s in steps)
    header = (
        f"{'offered/s':>9} "
        + " ".join(f"{name[:13]:>13}" for name in names)
        + f" {'own total':>9} {'send p99 ms':>11}"
        + (f" {'db docs/msg':>11}" if documents else "")
    )
    lines = [f"CPU ms per message, by process: {title}", header, "-" * len(header)]
    for s in steps:
        cells = " ".join(f"{s['cpu_ms_per_message'].get(name, 0):>13.2f}" for name in names)
        send_delay = _f(s["loadgen_send_delay_ms"]["p99"], 11)
        docs = f" {s['database_documents_per_message_total']:>11.2f}" if documents else ""
        own = s["cpu_ms_per_message_totals"]["pipeline"]
        lines.append(f"{s['offered_rate']:>9.0f} {cells} {own:>9.2f} {send_delay}{docs}")
    lines.append(
        "(own total: the pipeline's own processes, without Kafka, the database and the load generator;"
        " send p99: how late the load generator sent, after each message's due time)"
    )
    return "\n".join(lines)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def compare(
    parley: list[dict[str, Any]], bare: list[dict[str, Any]], *, parley_saturated: bool, bare_saturated: bool
) -> dict[str, Any]:
    """Parley ÷ bare at each offered load both ran, and at saturation (each pipeline's best delivery rate)."""
    bare_at = {s["offered_rate"]: s for s in bare}
    steps = []
    for p in parley:
        b = bare_at.get(p["offered_rate"])
        if b is None:
            continue
        steps.append(
            {
                "offered_rate": p["offered_rate"],
                "delivered_per_s": _ratio(p["delivered_per_s"], b["delivered_per_s"]),
                "latency_p50": _ratio(p["latency_ms"]["p50"], b["latency_ms"]["p50"]),
                "latency_p99": _ratio(p["latency_ms"]["p99"], b["latency_ms"]["p99"]),
                "cpu_ms_per_message_pipeline": _ratio(
                    p["cpu_ms_per_message_totals"]["pipeline"], b["cpu_ms_per_message_totals"]["pipeline"]
                ),
                "cpu_ms_per_message_with_infrastructure": _ratio(_all_cpu(p), _all_cpu(b)),
            }
        )
    parley_best = max(s["delivered_per_s"] for s in parley)
    bare_best = max(s["delivered_per_s"] for s in bare)
    if not bare_saturated:
        bound = "an upper bound: the bare pipeline did not saturate on this ladder"
    elif not parley_saturated:
        bound = "a lower bound: Parley did not saturate on this ladder"
    else:
        bound = "both saturated"
    return {
        "steps": steps,
        "at_saturation": {
            "parley_messages_per_s": parley_best,
            "parley_saturated": parley_saturated,
            "bare_messages_per_s": bare_best,
            "bare_saturated": bare_saturated,
            "ratio": _ratio(parley_best, bare_best),
            "note": bound,
        },
    }


def _all_cpu(step: dict[str, Any]) -> float:
    totals = step["cpu_ms_per_message_totals"]
    return float(totals["pipeline"] + totals["infrastructure"])


def comparison_table(
    parley: list[dict[str, Any]], bare: list[dict[str, Any]], comparison: dict[str, Any]
) -> str:
    bare_at = {s["offered_rate"]: s for s in bare}
    header = (
        f"{'offered/s':>9} | {'delivered/s':>11} {'bare':>7} {'ratio':>6} | {'p50 ms':>7} {'bare':>6}"
        f" | {'p99 ms':>7} {'bare':>6} {'ratio':>6} | {'CPU ms/msg':>10} {'bare':>6} {'ratio':>6}"
        f" | {'+ infra':>7} {'bare':>6}"
    )
    lines = ["Parley ÷ bare pipeline, same load generator, same ladder", header, "-" * len(header)]
    for ratios in comparison["steps"]:
        rate = ratios["offered_rate"]
        p = next(s for s in parley if s["offered_rate"] == rate)
        b = bare_at[rate]
        lines.append(
            f"{rate:>9.0f} | {p['delivered_per_s']:>11.1f} {b['delivered_per_s']:>7.1f} {_x(ratios['delivered_per_s'])}"
            f" | {_f(p['latency_ms']['p50'], 7)} {_f(b['latency_ms']['p50'], 6)}"
            f" | {_f(p['latency_ms']['p99'], 7)} {_f(b['latency_ms']['p99'], 6)} {_x(ratios['latency_p99'])}"
            f" | {p['cpu_ms_per_message_totals']['pipeline']:>10.2f} {b['cpu_ms_per_message_totals']['pipeline']:>6.2f}"
            f" {_x(ratios['cpu_ms_per_message_pipeline'])}"
            f" | {_all_cpu(p):>7.2f} {_all_cpu(b):>6.2f}"
        )
    for b in bare:
        if b["offered_rate"] not in {r["offered_rate"] for r in comparison["steps"]}:
            lines.append(
                f"{b['offered_rate']:>9.0f} | {'-':>11} {b['delivered_per_s']:>7.1f} {'-':>6}"
                f" | {'-':>7} {_f(b['latency_ms']['p50'], 6)} | {'-':>7} {_f(b['latency_ms']['p99'], 6)} {'-':>6}"
                f" | {'-':>10} {b['cpu_ms_per_message_totals']['pipeline']:>6.2f} {'-':>6} | {'-':>7} {_all_cpu(b):>6.2f}"
            )
    top = comparison["at_saturation"]
    lines.append(
        f"at saturation: Parley {top['parley_messages_per_s']} msg/s, bare {top['bare_messages_per_s']} msg/s,"
        f" Parley ÷ bare = {top['ratio']} ({top['note']})"
    )
    return "\n".join(lines)


def _x(value: float | None) -> str:
    return f"{'-':>6}" if value is None else f"{value:>6.2f}"


def _f(value: float | None, width: int = 8) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.0f}"


def chart(steps: list[dict[str, Any]], bare: list[dict[str, Any]], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axis = plt.subplots(figsize=(8, 5))
    for name, pipeline, color in (("Parley", steps, "tab:blue"), ("bare pipeline", bare, "tab:orange")):
        offered = [s["offered_rate"] for s in pipeline]
        for key, style in (("p50", "-"), ("p99", "--")):
            latencies = [s["latency_ms"][key] or 0 for s in pipeline]
            axis.plot(offered, latencies, style, color=color, marker="o", label=f"{name} {key}")
    axis.set_xlabel("offered load (visitor messages / s)")
    axis.set_ylabel("end-to-end latency (ms)")
    axis.set_yscale("log")
    axis.set_title("Visitor post → agent WebSocket receipt: Parley and the bare pipeline")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
