"""Where the bytes of photos are kept: a folder, or a bucket of an S3-compatible store.

A store keeps bytes by key: ``<case_id>/<sha256>.<ext>`` for a case's photos,
``visits/<visit_id>/<sha256>.<ext>`` for a visit's, ``….thumb.jpg`` for their
thumbnails (:mod:`gridgis.cases.photos` names them). Every store does the same three
things (:class:`PhotoStore`): ``put`` keeps bytes once (``False`` when the key is there
already: keys name their content, so a second write would change nothing), ``get``
raises :class:`~gridgis.errors.NotFoundError` for a key it lacks, ``delete`` is silent
for one it lacks.

- :class:`FileStore`: a folder (``GRIDGIS_PHOTO_DIR``, default ``GRIDGIS_HOME/photos``),
  one file per key, written atomically. Never served by the web server.
- :class:`S3Store`: a bucket (``GRIDGIS_S3_BUCKET``, keys under ``GRIDGIS_S3_PREFIX``) of
  any server that speaks S3: MinIO, Ceph RGW, Aliyun OSS, Huawei OBS, Tencent COS, Amazon
  S3. ``put`` asks with a ``HEAD`` first (portable: not every such server honours
  ``If-None-Match`` on a ``PUT``). The client is made once per process for each set of
  settings (:func:`photo_store` costs a dictionary look-up per request) with timeouts
  (:data:`CONNECT_SECONDS`, :data:`READ_SECONDS`) and :data:`ATTEMPTS` tries with
  back-off; checksums are sent only where S3 requires them, since several compatible
  servers refuse the CRC32 headers newer boto3 adds. A server that cannot be reached or
  refuses is a :class:`~gridgis.errors.StorageError` (503) naming the endpoint, the
  bucket and the key, never the credentials.

:func:`photo_store` is the configured store (``GRIDGIS_PHOTO_STORE``); :func:`copy_photos`
moves every key from one store to another (``gridgis photos migrate``) and
:func:`check_photos` finds the photos of the database whose bytes a store lacks
(``gridgis photos check``).

Examples
--------
>>> import tempfile
>>> store = FileStore(Path(tempfile.mkdtemp()))
>>> store.put("7/ab.jpg", b"bytes"), store.put("7/ab.jpg", b"bytes")
(True, False)
>>> store.get("7/ab.jpg"), list(store.keys())
(b'bytes', ['7/ab.jpg'])
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import Connection, Engine, literal, select, union_all

from gridgis import config
from gridgis.db import queries
from gridgis.db.models import CasePhoto, VisitPhoto
from gridgis.errors import ConfigError, NotFoundError, StorageError

if TYPE_CHECKING:
    from gridgis.config import Settings

__all__ = [
    "ATTEMPTS",
    "CONNECT_SECONDS",
    "READ_SECONDS",
    "CopyReport",
    "FileStore",
    "PhotoCheck",
    "PhotoStore",
    "S3Store",
    "check_photos",
    "copy_photos",
    "discard",
    "file_store",
    "photo_store",
    "s3_store",
]

CONNECT_SECONDS = 5.0
"""How long the S3 store's client waits for a connection."""
READ_SECONDS = 30.0
"""How long it waits for an answer (a 10 MiB photo over a slow intranet link)."""
ATTEMPTS = 3
"""How often it tries a request that failed on the way or was answered 5xx or throttled."""

_log = logging.getLogger(__name__)
_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


class PhotoStore(Protocol):
    """Where photo bytes are kept, by key (``<case_id>/<sha256>.<ext>``)."""

    def put(self, key: str, data: bytes) -> bool:
        """Keep ``data`` under ``key``; ``False`` when it was there already."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key`` (:class:`NotFoundError` when there are none)."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing when it is not there)."""
        ...

    def keys(self) -> Iterator[str]:
        """Every key kept (thumbnails too), for copies and checks."""
        ...


def _parts(key: str) -> list[str]:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"`key` was {key!r} but is expected to be a relative path")
    return parts


class FileStore:
    """A photo store in a folder (mode 700), one file per key, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __str__(self) -> str:
        return f"the folder {str(self.root)!r}"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_parts(key))

    def put(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"the photo store has no {key!r}", zh=f"照片存储中没有 {key!r}"
            ) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(".part-"):
                yield path.relative_to(self.root).as_posix()


_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


def _client(
    endpoint: str | None,
    region: str,
    access_key: str | None,
    secret_key: str | None,
    addressing: str,
) -> Any:
    """The boto3 S3 client of these settings, made on first use and kept for the process
    (a client costs ~30 ms to make; it is thread-safe and pools its connections)."""
    key = (endpoint, region, access_key, secret_key, addressing)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            options = Config(
                connect_timeout=CONNECT_SECONDS,
                read_timeout=READ_SECONDS,
                retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                s3={"addressing_style": addressing},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=20,
            )
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=options,
            )
            if len(_clients) >= 8:  # settings changed many times (tests): forget the old
                _clients.clear()
            _clients[key] = client
    return client


class S3Store:
    """A photo store in a bucket of an S3-compatible server, keys under ``prefix``.

    Parameters
    ----------
    bucket:
        The bucket (it must exist).
    prefix:
        What every key starts with (``gridgis/photos/``); empty: the bucket's top.
    endpoint:
        The server's URL (``http://minio.intranet:9000``); ``None``: Amazon S3.
    region, access_key, secret_key, addressing:
        As the settings ``GRIDGIS_S3_*`` (:func:`s3_store`); no keys: boto3's own
        (``AWS_ACCESS_KEY_ID``, ``~/.aws``, an instance role).
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        addressing: Literal["path", "virtual"] = "path",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint
        self._client = _client(endpoint, region, access_key, secret_key, addressing)

    def __str__(self) -> str:
        where = config.mask_url(self.endpoint) if self.endpoint else "Amazon S3"
        return f"s3://{self.bucket}/{self.prefix} at {where}"

    def __repr__(self) -> str:  # no credentials, ever
        return f"S3Store({self.bucket!r}, prefix={self.prefix!r}, endpoint={self.endpoint!r})"

    def _name(self, key: str) -> str:
        return self.prefix + "/".join(_parts(key))

    def _failed(self, exc: Exception, doing: str, key: str | None = None) -> StorageError:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error.get("Code") or "?"
            reason = f"the server answered {code} (HTTP {status})"
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
                reason += "; check GRIDGIS_S3_ACCESS_KEY and GRIDGIS_S3_SECRET_KEY"
            elif code == "NoSuchBucket":
                reason += "; the bucket does not exist (create it, or set GRIDGIS_S3_BUCKET)"
        elif isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            reason = f"cannot connect (tried {ATTEMPTS} times)"
        elif isinstance(exc, ReadTimeoutError):
            reason = f"no answer within {READ_SECONDS:g} s"
        elif isinstance(exc, NoCredentialsError):
            reason = "no credentials: set GRIDGIS_S3_ACCESS_KEY and GRIDGIS_S3_SECRET_KEY"
        else:
            reason = type(exc).__name__
        what = f" {key!r}" if key is not None else ""
        return StorageError(f"the photo store {self} cannot {doing}{what}: {reason}", store=self)

    def _call(self, doing: str, key: str | None, method: str, **arguments: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(Bucket=self.bucket, **arguments)
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(exc, doing, key) from exc

    def put(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        name = self._name(key)
        try:
            self._client.head_object(Bucket=self.bucket, Key=name)
            return False
        except ClientError as exc:
            if _status(exc) != 404:  # 404: not there (or no bucket, which the PUT names)
                raise self._failed(exc, "read", key) from exc
        except BotoCoreError as exc:
            raise self._failed(exc, "read", key) from exc
        content_type = _TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")
        self._call("write", key, "put_object", Key=name, Body=data, ContentType=content_type)
        return True

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._name(key))
            with answer["Body"] as body:  # a read cut or timed out is the store's failure too
                return bytes(body.read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFoundError(
                    f"the photo store has no {key!r}", zh=f"照片存储中没有 {key!r}"
                ) from None
            raise self._failed(exc, "read", key) from exc
        except BotoCoreError as exc:
            raise self._failed(exc, "read", key) from exc

    def delete(self, key: str) -> None:
        self._call("delete", key, "delete_object", Key=self._name(key))  # no error if absent

    def keys(self) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        start = len(self.prefix)
        pages = self._client.get_paginator("list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    if not item["Key"].endswith("/"):  # a "folder" made by a console
                        yield item["Key"][start:]
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(exc, "list its keys") from exc


def _status(exc: Any) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def file_store(
    directory: Path | str | None = None, *, settings: Settings | None = None
) -> FileStore:
    """The folder store in ``directory``, else ``GRIDGIS_PHOTO_DIR``, else
    ``GRIDGIS_HOME/photos``."""
    if directory is None:
        settings = settings or config.settings()
        directory = settings.photo_dir or settings.home / "photos"
    return FileStore(Path(directory))


def s3_store(settings: Settings | None = None) -> S3Store:
    """The bucket store of the settings ``GRIDGIS_S3_*`` (its client made once per process).

    Raises
    ------
    ConfigError
        When ``GRIDGIS_S3_BUCKET`` is unset.
    """
    settings = settings or config.settings()
    if settings.s3_bucket is None:
        raise ConfigError(
            "GRIDGIS_S3_BUCKET is unset; set it to the bucket of the photo store",
            zh="未设置 GRIDGIS_S3_BUCKET：请设为照片存储所用的存储桶",
        )
    secret = settings.s3_secret_key
    access = settings.s3_access_key
    return S3Store(
        settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        access_key=access.get_secret_value() if access is not None else None,
        secret_key=secret.get_secret_value() if secret is not None else None,
        addressing=settings.s3_addressing,
    )


def photo_store(directory: Path | str | None = None) -> PhotoStore:
    """The configured store: ``GRIDGIS_PHOTO_STORE=s3``, the bucket (:func:`s3_store`);
    ``file``, the folder ``directory``, else ``GRIDGIS_PHOTO_DIR``, else
    ``GRIDGIS_HOME/photos``."""
    settings = config.settings()
    if settings.photo_store == "s3":
        return s3_store(settings)
    return file_store(directory, settings=settings)


def discard(store: PhotoStore, keys: Sequence[str]) -> None:
    """Remove ``keys`` from ``store`` (the files of a request that was not stored).

    Called while another error is on its way: a store that fails now is logged and left
    (the keys stay behind, unreferenced), so that the first error is the one answered.
    """
    for key in keys:
        try:
            store.delete(key)
        except StorageError as exc:
            _log.warning("photo %r left in the store: %s", key, exc)


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_photos` did: ``copied`` keys written, ``present`` ones the target
    had already, of ``total`` in the source."""

    total: int
    copied: int
    present: int

    def __str__(self) -> str:
        return f"{self.copied} copied, {self.present} already there, of {self.total}"


def copy_photos(
    source: PhotoStore,
    target: PhotoStore,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy every key of ``source`` (thumbnails too) that ``target`` lacks; the source is
    left as it is. Run it again after an interruption: what is there already is skipped.

    Parameters
    ----------
    progress:
        Called as ``progress(done, total)`` after the listing and after each key.
    """
    keys = list(source.keys())
    copied = 0
    if progress is not None:
        progress(0, len(keys))
    for done, key in enumerate(keys, start=1):
        if target.put(key, source.get(key)):
            copied += 1
        if progress is not None:
            progress(done, len(keys))
    return CopyReport(total=len(keys), copied=copied, present=len(keys) - copied)


@dataclass(frozen=True)
class PhotoCheck:
    """What :func:`check_photos` found: ``checked`` uploads of the database (``cases`` of
    cases, ``visits`` of visits); ``missing`` the keys of those whose bytes the store lacks."""

    cases: int
    visits: int
    missing: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return self.cases + self.visits


def check_photos(connection: Engine | Connection, store: PhotoStore) -> PhotoCheck:
    """Check that ``store`` holds the bytes of every uploaded photo of cases and visits.

    The store's keys are listed once (a thousand per request to an S3 store) rather
    than asked for one by one.
    """
    query = union_all(
        select(CasePhoto.storage_key, literal("case").label("owner")).where(
            CasePhoto.kind == "upload"
        ),
        select(VisitPhoto.storage_key, literal("visit").label("owner")),
    )
    with queries.connection(connection) as conn:
        rows = conn.execute(query).all()
    kept = set(store.keys())
    missing = sorted({row.storage_key for row in rows} - kept)
    cases = sum(1 for row in rows if row.owner == "case")
    return PhotoCheck(cases=cases, visits=len(rows) - cases, missing=missing)
