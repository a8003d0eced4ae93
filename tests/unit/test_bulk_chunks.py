"""How Parley cuts bulk writes: few matching writes per bulk (FerretDB holds a connection for each), more inserts."""

from __future__ import annotations

from pymongo import InsertOne, ReplaceOne, UpdateOne

from shared.mongo import WriteOp, bulk_chunks


def test_updates_and_replaces_are_capped_per_chunk_inserts_only_by_the_total() -> None:
    replaces: list[WriteOp] = [ReplaceOne({"_id": n}, {"n": n}) for n in range(25)]
    inserts: list[WriteOp] = [InsertOne({"_id": n}) for n in range(450)]
    assert [len(c) for c in bulk_chunks(replaces, matching=10, total=200)] == [10, 10, 5]
    assert [len(c) for c in bulk_chunks(inserts, matching=10, total=200)] == [200, 200, 50]


def test_mixed_writes_keep_their_order_and_each_chunk_stays_under_both_limits() -> None:
    operations: list[WriteOp] = []
    for n in range(60):
        operations.append(InsertOne({"_id": f"i{n}"}))
        operations.append(
            UpdateOne({"_id": f"u{n}"}, {"$set": {"n": n}}) if n % 2 else ReplaceOne({"_id": n}, {})
        )
    chunks = bulk_chunks(operations, matching=10, total=15)
    assert [op for chunk in chunks for op in chunk] == operations
    for chunk in chunks:
        assert len(chunk) <= 15
        assert sum(not isinstance(op, InsertOne) for op in chunk) <= 10
    assert bulk_chunks([], matching=10, total=15) == []
