"""Which write failures mean another writer won (retry the batch) and which are the event's own fault."""

from __future__ import annotations

from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from shared.views import _is_duplicate_key


def test_only_a_duplicate_key_counts_as_a_concurrent_writer() -> None:
    assert _is_duplicate_key(DuplicateKeyError("E11000 duplicate key", 11000))
    assert _is_duplicate_key(BulkWriteError({"writeErrors": [{"index": 0, "code": 11000}]}))
    assert _is_duplicate_key(OperationFailure("E11000", 11000))  # FerretDB's way of reporting a bulk's error
    # A document too large or failing validation would be retried forever if mistaken for a race.
    assert not _is_duplicate_key(BulkWriteError({"writeErrors": [{"index": 0, "code": 10334}]}))
    assert not _is_duplicate_key(OperationFailure("Document failed validation", 121))
    assert not _is_duplicate_key(KeyError("nModified"))
