"""Storage roots: atomic local writes, listing, errors that say what to fix, and S3 on moto's server."""

import os
import pwd
import shutil
import tempfile
from pathlib import Path

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


def _as_unprivileged_user(check) -> tuple[int, str]:
    """Run ``check`` in a forked child as a user without special rights (``nobody`` when we are root, as in CI).

    Returns the child's effective uid and what ``check`` raised (``"no error"`` if nothing). Forking keeps the
    imported modules, so the unprivileged child needs no access to the checkout or the virtualenv.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, run the check, report through the pipe, never return into pytest
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            try:
                check()
                outcome = "no error"
            except BaseException as exc:  # noqa: BLE001  (reported to the parent, which asserts on it)
                outcome = f"{type(exc).__name__}: {exc}"
            os.write(write_fd, f"{os.geteuid()}\n{outcome}".encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(pid, 0)
    uid, _, outcome = report.partition("\n")
    return int(uid), outcome


@pytest.fixture
def read_only_dir():
    """A folder everyone can enter but nobody except its owner, root, can write.

    Made under the system temp folder rather than tmp_path, whose parent (pytest-of-<user>) only its owner
    may enter: the unprivileged user must reach the folder for the test to be about writing, not reaching.
    """
    base = Path(tempfile.mkdtemp(prefix="ftm-ro-"))
    base.chmod(0o755)
    ro = base / "ro"
    ro.mkdir(mode=0o555)
    yield ro
    ro.chmod(0o755)
    shutil.rmtree(base)


@pytest.mark.parametrize("below", [False, True], ids=["the-folder-itself", "a-folder-below-it"])
def test_local_not_writable(read_only_dir, below):
    root = read_only_dir / "x" if below else read_only_dir
    uid, outcome = _as_unprivileged_user(lambda: LocalStorage(root).check_writable())
    assert uid != 0
    assert outcome.startswith(f"StorageError: Storage root {root} is not writable (Permission denied)"), outcome
    assert "Set FTM_STORAGE_ROOT to a folder you can write" in outcome


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
