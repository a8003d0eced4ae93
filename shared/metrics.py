"""Operator metrics in the Prometheus text format: every service's /metrics writes its lines with these, so
label values are escaped the same way everywhere (tenants, agents and departments are named by users)."""

from __future__ import annotations

from collections.abc import Iterable


def sample(name: str, value: object, **labels: object) -> str:
    """One sample line: `name{label="value",...} value`. Format a float before passing it when its digits
    matter (e.g. f"{seconds:.3f}")."""
    if not labels:
        return f"{name} {value}"
    pairs = ",".join(f'{label}="{escaped(str(text))}"' for label, text in labels.items())
    return f"{name}{{{pairs}}} {value}"


def exposition(lines: Iterable[str]) -> str:
    """The body of a /metrics answer: one line each, ending with a newline."""
    return "".join(f"{line}\n" for line in lines)


def escaped(label_value: str) -> str:
    return label_value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
