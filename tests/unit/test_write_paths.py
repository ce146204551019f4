"""The writes-per-document meter (bench/hot_documents.py): which document each write protobuf
changes, and the busiest documents first."""

from __future__ import annotations

from google.cloud.firestore_v1.types import common, document, write
from sendvia.metering import WritePaths, _path_of

ROOT = "projects/p/databases/(default)/documents/"


def test_each_kind_of_write_names_its_document():
    update = write.Write(update=document.Document(name=f"{ROOT}tenants/t/deliveries/d1"))
    delete = write.Write(delete=f"{ROOT}tenants/t/contacts/c1")
    transform = write.Write(
        transform=write.DocumentTransform(document=f"{ROOT}tenants/t/suppressions/ab"),
        current_document=common.Precondition(exists=True),
    )
    assert [_path_of(w) for w in (update, delete, transform)] == [
        "tenants/t/deliveries/d1",
        "tenants/t/contacts/c1",
        "tenants/t/suppressions/ab",
    ]


def test_the_busiest_second_ranks_documents_and_reset_starts_over():
    meter = WritePaths()
    meter.add(["shard/a"] * 5, at=100.2)
    meter.add(["shard/a"] * 2, at=101.9)
    meter.add(["delivery/1"] * 3, at=100.5)
    rows = meter.snapshot(reset=True)
    assert rows[0] == {"path": "shard/a", "writes": 7, "peak_per_s": 5, "span_s": 2}
    assert rows[1] == {"path": "delivery/1", "writes": 3, "peak_per_s": 3, "span_s": 1}
    assert meter.snapshot() == []
