"""Where the router keeps each tenant's state: entries in a faust table, written so a crash loses no half-fact.

The table (in-memory, rebuilt from its changelog topic at start) holds one entry per agent, conversation,
department and queue of each tenant (`TenantState.to_entries`), so a fact rewrites only what it changed.
A fact's changes are several writes, and a crash can land between any two of them. So `save` first writes
the whole change as one PENDING record (the write-ahead record), then the entries themselves; `load`
re-applies the PENDING record over the entries it finds. A crash persists a prefix of the writes, never
half of one record: with the PENDING record written the state recovers as the fact left it, without it as
it was before the fact (whose offset is not recorded either, so the fact is applied again). The next save
writes whatever the table still lacks of a recovered record, under its own PENDING record, so a later
restart finds the fact's changes in the entries themselves.

Beside the tenants, the table keeps the last routing-facts offset applied on each partition.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from services.routing.state import TenantState

# Table keys: tenant, separator, entry ("meta", "agent/<id>", "conv/<id>", "dept/<id>", "queue/<id>").
SEP = "\x1f"
PENDING = "pending"
# Starts the key of each partition's last applied offset; a tenant key starts with the tenant's id instead.
APPLIED = "\x1eapplied/"

# The faust table (a mutable mapping of JSON values); its keys may come back as bytes.
Table = MutableMapping[Any, Any]
# One tenant's entries as stored, by entry name ("meta", "agent/<id>", ...).
Entries = dict[str, Any]


def applied_key(partition: int) -> str:
    """The table entry holding the last routing-facts offset applied on a partition (no tenant's prefix)."""
    return f"{APPLIED}{partition}"


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


class TenantStore:
    def __init__(self, table: Table) -> None:
        self.table = table
        # The tenants this worker routes, as last written; dropped on every rebalance and re-read from the table.
        self._cache: dict[str, tuple[TenantState, Entries]] = {}

    def forget(self) -> None:
        """Drop what is cached: after a rebalance the table is the truth, for the partitions held now."""
        self._cache.clear()

    def load(self, tenant: str) -> tuple[TenantState, Entries]:
        """The tenant's state, and its entries as the table holds them (to pass back to `save`)."""
        if tenant not in self._cache:
            mine = f"{tenant}{SEP}"
            stored = {
                _text(key)[len(mine) :]: value
                for key, value in self.table.items()
                if _text(key).startswith(mine)
            }
            # The last fact's changes, written as one record before its entries: a crash can persist a
            # prefix of the entry writes, never half of this record, so re-applying it completes them.
            pending = stored.pop(PENDING, None) or {}
            recovered = {**stored, **pending.get("set", {})}
            for key in pending.get("del", []):
                recovered.pop(key, None)
            # The next save compares with the table, not with the recovered state: entries a crash left
            # unwritten differ from the state, so that save writes them, under its own PENDING record,
            # before it overwrites the one that recovered them.
            self._cache[tenant] = (TenantState.from_entries(recovered), stored)
        return self._cache[tenant]

    def save(self, tenant: str, state: TenantState, before: Entries) -> None:
        """Write what changed since `before`: the PENDING record first, then the entries."""
        after = state.to_entries()
        # An entry the fact did not take is the very object saved before: no need to compare its fields.
        changed = {
            key: value
            for key, value in after.items()
            if (stored := before.get(key)) is not value and stored != value
        }
        deleted = sorted(before.keys() - after.keys())
        self.table[f"{tenant}{SEP}{PENDING}"] = {"set": changed, "del": deleted}
        for key, value in changed.items():
            self.table[f"{tenant}{SEP}{key}"] = value
        for key in deleted:
            del self.table[f"{tenant}{SEP}{key}"]
        self._cache[tenant] = (state, after)

    def applied(self, partition: int) -> int | None:
        """The last routing-facts offset applied on the partition; None before the first."""
        key = applied_key(partition)
        # Checked first: reading a missing key of the faust table returns its default, an empty dict.
        return self.table[key] if key in self.table else None

    def mark_applied(self, partition: int, offset: int) -> None:
        self.table[applied_key(partition)] = offset

    def tenants(self) -> list[str]:
        """Every tenant in the table (each has a meta entry), whichever worker routes it."""
        found = []
        for key in list(self.table.keys()):
            tenant, _, entry = _text(key).partition(SEP)
            if entry == "meta":
                found.append(tenant)
        return found

    def cached_states(self) -> dict[str, TenantState]:
        """The states of the tenants routed here since the last rebalance."""
        return {tenant: state for tenant, (state, _) in self._cache.items()}
