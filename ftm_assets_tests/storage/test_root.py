"""Storage roots: atomic local writes, listing, errors that say what to fix, and S3 on moto's server."""

import os

import pytest

from ftm_assets.storage import LocalStorage, S3Storage, StorageError, open_storage
from ftm_assets_tests.support.aws import create_bucket, moto_server  # noqa: F401


def _exercise(store):
    store.write_text("a/b/one.json", "1")
    store.write_bytes("a/b/two.bin", b"\x00\x01")
    store.write_text("a/c.txt", "c")
    assert store.read_text("a/b/one.json") == "1"
    assert store.exists("a/b/two.bin") and not store.exists("a/b/none")
    assert store.list("a/b/") == ["a/b/one.json", "a/b/two.bin"]
    assert store.list("a/") == ["a/b/one.json", "a/b/two.bin", "a/c.txt"]
    store.write_text("a/b/one.json", "2")
    assert store.read_text("a/b/one.json") == "2"
    store.delete("a/b/one.json")
    store.delete("a/b/one.json")  # deleting twice is fine
    assert store.list("a/b/") == ["a/b/two.bin"]
    with pytest.raises(StorageError, match="a/none"):
        store.read_bytes("a/none")
    store.check_writable()


def test_local(tmp_path):
    store = open_storage(tmp_path / "root")
    assert isinstance(store, LocalStorage)
    _exercise(store)
    leftovers = [p for p in (tmp_path / "root").rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # no temporary files left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_local_not_writable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(StorageError, match="FTM_STORAGE_ROOT"):
        LocalStorage(ro / "x").check_writable()


def test_local_not_writable_file_in_the_way(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="not writable.*FTM_STORAGE_ROOT"):
        LocalStorage(tmp_path / "file" / "root").check_writable()


def test_unsupported_scheme():
    with pytest.raises(StorageError, match="s3://"):
        open_storage("gs://bucket/x")


def test_s3(moto_server):  # noqa: F811
    bucket = create_bucket(moto_server)
    store = open_storage(f"s3://{bucket}/prefix/")
    assert isinstance(store, S3Storage) and store.root == f"s3://{bucket}/prefix"
    _exercise(store)
    assert store.uri("k") == f"s3://{bucket}/prefix/k"


def test_s3_missing_bucket_names_the_reason(moto_server):  # noqa: F811
    with pytest.raises(StorageError, match="NoSuchBucket"):
        open_storage("s3://no-such-bucket-ftm/x").check_writable()
