"""Storage roots. Every write is atomic: readers see the old object or the new one, never half of one.

Locally that is a temporary file in the same folder, then ``os.replace``; on S3 a single PUT is atomic.
Keys are always ``/``-separated and relative to the root.
"""

from __future__ import annotations

import email.utils
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path

from ftm_assets.storage.file_hash import file_sha256


class StorageError(RuntimeError):
    """A storage problem a user must act on (root not writable, access denied, missing object)."""


class PreconditionFailed(StorageError):
    """A conditional write lost: the object exists (create) or changed since it was read (replace)."""


class Storage(ABC):
    root: str
    age_resolution_s: float = 0.0  # how coarse read_versioned_age's clock is (S3's headers: whole seconds)

    @abstractmethod
    def uri(self, key: str) -> str:
        """Where ``key`` lives, for messages and metadata."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (a folder-like prefix), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error."""

    @abstractmethod
    def download(self, key: str, local_path: Path) -> None: ...

    @abstractmethod
    def upload(self, local_path: Path, key: str) -> None: ...

    @abstractmethod
    def check_writable(self) -> None:
        """Raise StorageError with what to fix when the root cannot be written."""

    # -- conditional writes: what a lease needs (one writer per partition) ------------------------------
    @abstractmethod
    def read_versioned(self, key: str) -> tuple[bytes, str]:
        """The object and a version token that changes whenever it is rewritten."""

    @abstractmethod
    def create_exclusive(self, key: str, data: bytes) -> str:
        """Write ``key`` only if it does not exist (else PreconditionFailed); return its version."""

    @abstractmethod
    def replace_if(self, key: str, data: bytes, version: str) -> str:
        """Rewrite ``key`` only if it is still at ``version`` (else PreconditionFailed); return the new version."""

    @abstractmethod
    def read_versioned_age(self, key: str) -> tuple[bytes, str, float]:
        """The object, its version and its age in seconds, both ends of the age measured by the storage's own
        clock (S3: ``Last-Modified`` against the answer's ``Date``): no comparison of two machines' clocks."""

    @abstractmethod
    def age(self, key: str) -> float:
        """Seconds since ``key`` was last written, by the storage's own clock as ``read_versioned_age``, without
        reading the object."""

    @abstractmethod
    def versions(self, prefix: str) -> dict[str, str]:
        """Key -> version of every object under ``prefix``, from its content: an identical re-upload keeps it."""

    def write_if(self, key: str, data: bytes, version: str | None) -> str:
        """Write ``key`` only if it is still at ``version`` (None: only if it does not exist); the new version.

        What a fenced writer uses: a holder that lost its lease meanwhile cannot land (PreconditionFailed).
        """
        return self.create_exclusive(key, data) if version is None else self.replace_if(key, data, version)

    def temp_files(self, prefix: str, name_prefix: str) -> list[str]:
        """Temporary files of interrupted writes under ``prefix`` whose target name starts with ``name_prefix``
        (a killed writer leaves them); none on S3, where an unfinished PUT leaves nothing."""
        return []

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike[str]):
        self.path = Path(root).expanduser().resolve()
        self.root = str(self.path)

    def _p(self, key: str) -> Path:
        return self.path / key

    def uri(self, key: str) -> str:
        return str(self._p(key))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._p(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"{self.uri(key)} does not exist.") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._p(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self._p(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix)
        folder = base if base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        out = []
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                rel = path.relative_to(self.path).as_posix()
                if rel.startswith(prefix.rstrip("/")):
                    out.append(rel)
        return sorted(out)

    def delete(self, key: str) -> None:
        self._p(key).unlink(missing_ok=True)

    def download(self, key: str, local_path: Path) -> None:
        try:
            shutil.copyfile(self._p(key), local_path)
        except FileNotFoundError as exc:
            raise StorageError(f"{self.uri(key)} does not exist.") from exc

    def upload(self, local_path: Path, key: str) -> None:
        target = self._p(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def read_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.read_bytes(key)
        return data, hashlib.sha256(data).hexdigest()

    def read_versioned_age(self, key: str) -> tuple[bytes, str, float]:
        try:
            mtime = self._p(key).stat().st_mtime
        except FileNotFoundError as exc:
            raise StorageError(f"{self.uri(key)} does not exist.") from exc
        data, version = self.read_versioned(key)
        return data, version, max(0.0, time.time() - mtime)  # one machine's clock: the root is on this host

    def age(self, key: str) -> float:
        try:
            return max(0.0, time.time() - self._p(key).stat().st_mtime)
        except FileNotFoundError as exc:
            raise StorageError(f"{self.uri(key)} does not exist.") from exc

    def _locked(self, key: str):
        """An flock on a hidden sidecar file: local compare-and-swap between processes of this machine."""
        target = self._p(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        return _FileLock(target.with_name(f".{target.name}.lock"))

    def create_exclusive(self, key: str, data: bytes) -> str:
        with self._locked(key):
            if self.exists(key):
                if self.read_bytes(key) == data:  # our own write, repeated: not a conflict
                    return hashlib.sha256(data).hexdigest()
                raise PreconditionFailed(f"{self.uri(key)} already exists.")
            self.write_bytes(key, data)
        return hashlib.sha256(data).hexdigest()

    def replace_if(self, key: str, data: bytes, version: str) -> str:
        with self._locked(key):
            try:
                _, current = self.read_versioned(key)
            except StorageError as exc:
                raise PreconditionFailed(f"{self.uri(key)} is gone (expected version {version[:12]}).") from exc
            if current != version:
                if current == hashlib.sha256(data).hexdigest():  # our own write, repeated: not a conflict
                    return current
                raise PreconditionFailed(f"{self.uri(key)} changed (expected version {version[:12]}).")
            self.write_bytes(key, data)
        return hashlib.sha256(data).hexdigest()

    def versions(self, prefix: str) -> dict[str, str]:
        return {key: file_sha256(self._p(key)) for key in self.list(prefix)}

    def temp_files(self, prefix: str, name_prefix: str) -> list[str]:
        folder = self._p(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.path).as_posix() for p in folder.glob(f".{name_prefix}*.tmp") if p.is_file())

    def check_writable(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".ftm-write-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageError(
                f"Storage root {self.root} is not writable ({exc.strerror or exc}). "
                "Set FTM_STORAGE_ROOT to a folder you can write, or s3://bucket/prefix."
            ) from exc


class S3Storage(Storage):
    """S3 through boto3 (honours AWS_ENDPOINT_URL, so moto's server works the same as AWS)."""

    age_resolution_s = 2.0  # Last-Modified and Date are whole seconds, each truncated

    def __init__(self, root: str, client=None):
        if not root.startswith("s3://"):
            raise ValueError(f"Not an S3 root: {root!r}")
        bucket, _, prefix = root[len("s3://") :].partition("/")
        if not bucket:
            raise StorageError(f"Storage root {root!r} names no bucket: use s3://bucket[/prefix].")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"s3://{bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def _k(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._k(key)}"

    def _error(self, exc: Exception, key: str, action: str) -> StorageError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return StorageError(f"Could not {action} {self.uri(key)}: {code} ({exc}).")

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()
        except Exception as exc:  # botocore raises ClientError subclasses per code
            raise self._error(exc, key, "read") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)
        except Exception as exc:
            raise self._error(exc, key, "write") from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error(exc, key, "look up") from exc

    def list(self, prefix: str) -> list[str]:
        out = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._k(prefix)
            ):
                out.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        except Exception as exc:
            raise self._error(exc, prefix, "list") from exc
        return sorted(out)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._k(key))
        except Exception as exc:
            raise self._error(exc, key, "delete") from exc

    def download(self, key: str, local_path: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._k(key), str(local_path))
        except Exception as exc:
            raise self._error(exc, key, "download") from exc

    def upload(self, local_path: Path, key: str) -> None:
        # upload_file switches to multipart above 8 MiB; a multipart upload is also only visible once
        # completed, so readers still never see half an object.
        try:
            self.client.upload_file(str(local_path), self.bucket, self._k(key))
        except Exception as exc:
            raise self._error(exc, key, "upload") from exc

    def read_versioned(self, key: str) -> tuple[bytes, str]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
            return answer["Body"].read(), answer["ETag"]
        except Exception as exc:
            raise self._error(exc, key, "read") from exc

    def read_versioned_age(self, key: str) -> tuple[bytes, str, float]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
            data = answer["Body"].read()
        except Exception as exc:
            raise self._error(exc, key, "read") from exc
        return data, answer["ETag"], _age(answer)

    def age(self, key: str) -> float:
        try:
            return _age(self.client.head_object(Bucket=self.bucket, Key=self._k(key)))
        except Exception as exc:
            raise self._error(exc, key, "look up") from exc

    def _put_conditional(self, key: str, data: bytes, **condition: str) -> str:
        try:
            return self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, **condition)["ETag"]
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409", "NoSuchKey"):
                # The SDK retries a PUT whose answer was lost; the retry then meets our own first write. The
                # object holding exactly our bytes means the write happened: success, not a lost race.
                try:
                    current, version = self.read_versioned(key)
                except StorageError:
                    current, version = None, ""
                if current == data:
                    return version
                raise PreconditionFailed(f"{self.uri(key)}: conditional write refused ({code}).") from exc
            raise self._error(exc, key, "write") from exc

    def create_exclusive(self, key: str, data: bytes) -> str:
        return self._put_conditional(key, data, IfNoneMatch="*")

    def replace_if(self, key: str, data: bytes, version: str) -> str:
        return self._put_conditional(key, data, IfMatch=version)

    def versions(self, prefix: str) -> dict[str, str]:
        out = {}
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._k(prefix)
            ):
                out.update({obj["Key"][strip:]: obj["ETag"] for obj in page.get("Contents", [])})
        except Exception as exc:
            raise self._error(exc, prefix, "list") from exc
        return dict(sorted(out.items()))

    def check_writable(self) -> None:
        key = f".ftm-write-probe-{uuid.uuid4().hex}"
        self.write_bytes(key, b"ok")
        self.delete(key)


def _age(answer: dict) -> float:
    """An S3 answer's object age: ``Last-Modified`` against the answer's own ``Date`` (both S3's clock)."""
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    now = email.utils.parsedate_to_datetime(date).timestamp() if date else time.time()
    return max(0.0, now - answer["LastModified"].timestamp())


class _FileLock:
    """An exclusive ``flock`` held for a ``with`` block (released when the process dies, too)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> "_FileLock":
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def open_storage(root: str | os.PathLike[str] | Storage) -> Storage:
    """The storage behind ``root``: ``s3://bucket[/prefix]`` or a local folder (a ``Storage`` is itself)."""
    if isinstance(root, Storage):
        return root
    text = str(root)
    if text.startswith("s3://"):
        return S3Storage(text)
    if "://" in text:
        raise StorageError(f"Unsupported storage root {text!r}: use a local folder or s3://bucket[/prefix].")
    return LocalStorage(text)
