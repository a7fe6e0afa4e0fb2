"""Photos of cases: checked, stripped of their metadata, stored, listed, thumbnailed.

A case carries photos filed with it (``event_id`` empty) and photos of the steps
and notes of its timeline (``event_id`` the entry's). A photo is an **upload**,
kept in the photo store, or a **link** (Open311's ``media_url``), only its URL.

What an upload goes through (:func:`prepare_photos`), before anything is stored:

- its **kind** is read from its first bytes, never from its name or the type the
  client claims: JPEG, PNG or HEIC/HEIF (the default of iPhones). A HEIC photo is
  decoded with pillow-heif (its size read from its header first, so a bomb is
  refused before decoding; its rotation applied) and stored as a JPEG, which every
  browser shows: its metadata (EXIF with GPS, XMP) is not carried over, and the
  JPEG then goes through the JPEG checks below. Without pillow-heif installed, HEIC
  is refused with the advice to choose 兼容性最佳 in the camera's settings;
- its **size**: at most ``GRIDGIS_PHOTO_MAX_BYTES`` bytes, at most
  ``GRIDGIS_PHOTO_MAX_COUNT`` photos at once;
- its **pixels**: width and height are read from the header and a photo over
  ``GRIDGIS_PHOTO_MAX_PIXELS`` is refused before anything is decoded (a
  decompression bomb); Pillow then parses the header again as a second reader;
- its **metadata** is removed without decoding the pixels: every JPEG segment
  but the image's own (quantisation and Huffman tables, frame, scans), JFIF, the
  ICC colour profile and Adobe's colour-transform marker is dropped (EXIF with
  GPS and the camera, XMP, IPTC, comments, and anything after the image's end,
  where phones append depth maps and second pictures with their own EXIF); PNG
  keeps only the chunks that say how to draw the pixels. The one piece kept is
  the EXIF orientation, written back as a minimal EXIF block, so the photo shows
  the right way up (browsers apply it) and the thumbnail is turned by it.

Why not decode and re-encode each upload: re-encoding a 2-megapixel JPEG costs
about 20 ms of CPU, ten times the rest of filing a case; the lossless removal
costs well under a millisecond and keeps the photo as taken. The thumbnail (320
px on its longer side, JPEG) is made on its first request, decoding at 1/8 scale
(3-4 ms), and kept in the store beside the photo.

Several problems in one request are reported together, each naming the photo by
its position (1-based) and file name (:class:`PhotoError`); nothing is stored then.

Stores (:class:`PhotoStore`, in :mod:`gridgis.cases.photo_stores`, whose names this
module also offers): :class:`FileStore`, under ``GRIDGIS_PHOTO_DIR`` (default
``GRIDGIS_HOME/photos``), or ``S3Store``, a bucket of an S3-compatible server
(``GRIDGIS_PHOTO_STORE=s3``); keys ``<case_id>/<sha256>.jpg`` (or ``.png``), thumbnails
``<case_id>/<sha256>.thumb.jpg``. Neither is ever served directly: photos are served
through the app, to those who may see the case.

Examples
--------
>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> Image.new("RGB", (1600, 1200), "grey").save(buffer, "JPEG")
>>> photos = prepare_photos([("门口.jpg", buffer.getvalue())])
>>> photos[0].content_type, photos[0].width
('image/jpeg', 1600)
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy import Connection, Engine, bindparam, func, insert, select

from gridgis import audit, config
from gridgis.cases.photo_stores import FileStore, PhotoStore, S3Store, discard, photo_store
from gridgis.db import queries
from gridgis.db.models import CasePhoto
from gridgis.errors import InputError, NotFoundError

__all__ = [
    "THUMBNAIL_PIXELS",
    "FileStore",
    "Photo",
    "PhotoError",
    "PhotoProblem",
    "PhotoStore",
    "S3Store",
    "add_link",
    "add_photos",
    "check_link",
    "discard",
    "first_photos",
    "get_photo",
    "list_photos",
    "photo_store",
    "photos_by_event",
    "prepare_photos",
    "read_photo",
    "thumbnail",
]

THUMBNAIL_PIXELS = 320
"""The longer side of a thumbnail, in pixels."""
MAX_LINK_CHARS = 2048
"""The longest photo link (Open311's ``media_url``) kept."""

_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
    b"sBIT", b"bKGD", b"pHYs",
}  # fmt: skip
"""The PNG chunks that say how to draw the pixels; every other chunk is dropped."""
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class PhotoProblem:
    """Why one photo of a request was refused.

    Attributes
    ----------
    index:
        Its position among the request's photos, from 1.
    name:
        Its file name as sent.
    reason:
        ``heic``, ``kind`` (not a JPEG or PNG), ``empty``, ``too_large``, ``too_many_pixels``,
        ``damaged`` or ``too_many`` (over the count).
    values:
        The figures of the reason (``bytes``, ``limit``, ``width``, ``height``, ``detail``).
    """

    index: int
    name: str
    reason: str
    values: Mapping[str, Any]

    def __str__(self) -> str:
        what = f"photo {self.index} ({self.name!r})"
        v = self.values
        if self.reason == "heic":
            return (
                f"{what} is HEIC/HEIF, which this server cannot read; send it as JPEG "
                "(on an iPhone: Settings → Camera → Formats → Most Compatible)"
            )
        if self.reason == "kind":
            return f"{what} is not a JPEG or PNG image (its first bytes are {v['start']})"
        if self.reason == "empty":
            return f"{what} is empty"
        if self.reason == "too_large":
            return f"{what} has {v['bytes']} bytes but a photo may have at most {v['limit']}"
        if self.reason == "too_many_pixels":
            return (
                f"{what} is {v['width']}×{v['height']} pixels but a photo may have at most "
                f"{v['limit']} pixels"
            )
        if self.reason == "too_many":
            return f"{v['count']} photos were sent but at most {v['limit']} may be"
        return f"{what} is not a readable image: {v['detail']}"

    @property
    def zh(self) -> str:
        """The problem in Chinese (:meth:`__str__` is the English)."""
        what = f"第 {self.index} 张照片（{self.name}）"
        v = self.values
        if self.reason == "heic":
            return (
                f"{what}是 HEIC 格式，无法读取；请在手机相机设置中选择“兼容性最佳”格式，或上传 JPEG"
            )
        if self.reason == "kind":
            return f"{what}不是 JPEG 或 PNG 图片（开头的字节为 {v['start']}）"
        if self.reason == "empty":
            return f"{what}是空文件"
        if self.reason == "too_large":
            return f"{what}有 {v['bytes']} 字节，超过了每张照片的上限 {v['limit']} 字节"
        if self.reason == "too_many_pixels":
            return f"{what}有 {v['width']}×{v['height']} 像素，超过了上限 {v['limit']} 像素"
        if self.reason == "too_many":
            return f"上传了 {v['count']} 张照片，最多可以上传 {v['limit']} 张"
        return f"{what}无法读取：{v['detail']}"


class PhotoError(InputError):
    """Photos of a request that were refused (400), every one named with its reason.

    The message, in English and in Chinese, is written from ``problems``.
    """

    code = "bad_photo"

    def __init__(self, problems: Sequence[PhotoProblem]) -> None:
        self.problems = list(problems)
        super().__init__(
            "; ".join(str(p) for p in self.problems) + "; nothing was stored",
            zh="；".join(p.zh for p in self.problems) + "；未保存任何内容。",
        )


@dataclass(frozen=True)
class Photo:
    """An upload checked and stripped by :func:`prepare_photos`, ready to store."""

    name: str
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    orientation: int
    sha256: str


class _Refused(Exception):
    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__(reason)
        self.reason, self.values = reason, values


# --- checking and stripping ----------------------------------------------------------------------


def _exif_orientation(orientation: int) -> bytes:
    """A TIFF/EXIF block holding only the orientation tag (big-endian)."""
    entry = struct.pack(">HHIHH", _ORIENTATION, 3, 1, orientation, 0)
    return b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 1) + entry + b"\x00\x00\x00\x00"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _kept_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xE0:
        return payload.startswith(b"JFIF\x00")
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:
        return payload.startswith(b"Adobe")
    return not (0xE1 <= marker <= 0xEF or marker == 0xFE)  # other APPn and comments go


def _strip_jpeg(data: bytes, orientation: int) -> tuple[bytes, int, int]:
    """``data`` without metadata (see the module), ending at its EOI; its width and height."""
    out: list[bytes] = []
    size: tuple[int, int] | None = None
    pos, end = 2, len(data)
    while True:
        if pos + 2 > end:
            raise _Refused("damaged", detail="the JPEG ends before its end marker")
        if data[pos] != 0xFF:
            raise _Refused("damaged", detail=f"no JPEG marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI: what follows (phones' appended pictures) is dropped
            out.append(b"\xff\xd9")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > end:
            raise _Refused("damaged", detail="the JPEG ends inside a segment")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        stop = pos + 2 + length
        if length < 2 or stop > end:
            raise _Refused("damaged", detail=f"a JPEG segment at byte {pos} runs past the end")
        payload = data[pos + 4 : stop]
        if marker in _SOF and len(payload) >= 5:
            height, width = struct.unpack(">HH", payload[1:5])
            size = (width, height)
        if _kept_segment(marker, payload):
            out.append(data[pos:stop])
        pos = stop
        if marker == 0xDA:  # a scan: entropy-coded data up to the next real marker
            while True:
                found = data.find(b"\xff", pos)
                if found < 0 or found + 1 >= end:
                    raise _Refused("damaged", detail="the JPEG ends inside its image data")
                following = data[found + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos = found + (2 if following != 0xFF else 1)
                    continue
                out.append(data[stop:found])
                pos = found
                break
    if size is None or 0 in size:
        raise _Refused("damaged", detail="the JPEG has no frame header with its size")
    head = [b"\xff\xd8"]
    if orientation != 1:
        exif = _segment(0xE1, b"Exif\x00\x00" + _exif_orientation(orientation))
        if out and out[0][1] == 0xE0:  # JFIF first, as its specification asks
            head += [out.pop(0), exif]
        else:
            head.append(exif)
    return b"".join(head + out), size[0], size[1]


def _strip_png(data: bytes, orientation: int) -> tuple[bytes, int, int]:
    """``data`` with only the chunks that draw it (and the orientation), ending at IEND."""
    out = [_PNG_SIGNATURE]
    pos, end = len(_PNG_SIGNATURE), len(data)
    size: tuple[int, int] | None = None
    while True:
        if pos + 12 > end:
            raise _Refused("damaged", detail="the PNG ends before its IEND chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        stop = pos + 12 + length
        if stop > end:
            raise _Refused("damaged", detail=f"a PNG chunk at byte {pos} runs past the end")
        if kind == b"IHDR" and length >= 8:
            size = struct.unpack(">II", data[pos + 8 : pos + 16])
        if kind in _PNG_KEPT:
            if kind == b"IEND" and orientation != 1:
                exif = _exif_orientation(orientation)
                crc = zlib.crc32(b"eXIf" + exif)
                out.append(struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", crc))
            out.append(data[pos:stop])
        pos = stop
        if kind == b"IEND":
            break
    if size is None or 0 in size:
        raise _Refused("damaged", detail="the PNG has no IHDR chunk with its size")
    return b"".join(out), size[0], size[1]


def _from_heif(data: bytes, *, max_pixels: int) -> bytes:
    """A HEIC/HEIF photo as a JPEG (quality 90, turned upright, no metadata)."""
    try:
        import pillow_heif
    except ImportError:  # an installation without it: the advice to send JPEG
        raise _Refused("heic") from None
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        width, height = heif.size  # from the header: nothing decoded yet
        if width * height > max_pixels:
            raise _Refused("too_many_pixels", width=width, height=height, limit=max_pixels)
        image = heif.to_pillow()  # decoded, its rotation and mirroring applied
        if image.mode != "RGB":
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)  # no exif=: GPS and the camera stay behind
    except (OSError, RuntimeError, SyntaxError, ValueError) as exc:  # libheif's refusals
        raise _Refused("damaged", detail=str(exc) or type(exc).__name__) from None
    return out.getvalue()


def _start(data: bytes) -> str:
    return data[:8].hex(" ") or "none"


def _prepare(name: str, data: bytes, *, max_bytes: int, max_pixels: int) -> Photo:
    if not data:
        raise _Refused("empty")
    if len(data) > max_bytes:
        raise _Refused("too_large", bytes=len(data), limit=max_bytes)
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        converted = _from_heif(data, max_pixels=max_pixels)
        return _prepare(name, converted, max_bytes=len(converted), max_pixels=max_pixels)
    if data.startswith(b"\xff\xd8\xff"):
        fmt, strip = "JPEG", _strip_jpeg
    elif data.startswith(_PNG_SIGNATURE):
        fmt, strip = "PNG", _strip_png
    else:
        raise _Refused("kind", start=_start(data))
    # The size from the header first: Pillow is not asked to open a bomb. Without an
    # orientation to keep (most photos), this pass's bytes are the photo as stored.
    stripped, width, height = strip(data, 1)
    if width * height > max_pixels:
        raise _Refused("too_many_pixels", width=width, height=height, limit=max_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            orientation = image.getexif().get(_ORIENTATION, 1)
            if image.size != (width, height):
                raise _Refused("damaged", detail="its headers disagree on its size")
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises for a bad file
        raise _Refused("damaged", detail=str(exc) or type(exc).__name__) from None
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    if orientation != 1:
        stripped, _, _ = strip(data, orientation)
    content_type, extension = _TYPES[fmt]
    return Photo(
        name=name,
        data=stripped,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        orientation=orientation,
        sha256=hashlib.sha256(stripped).hexdigest(),
    )


def prepare_photos(
    files: Sequence[tuple[str, bytes]],
    *,
    max_bytes: int | None = None,
    max_count: int | None = None,
    max_pixels: int | None = None,
) -> list[Photo]:
    """Check the uploads ``files`` (name, bytes) and strip their metadata (see the module).

    Parameters
    ----------
    files:
        The uploads in the order they were sent, each its file name and its bytes.
    max_bytes, max_count, max_pixels:
        The limits (default ``GRIDGIS_PHOTO_MAX_BYTES``, ``_MAX_COUNT``, ``_MAX_PIXELS``).

    Raises
    ------
    PhotoError
        (400) naming every photo refused, by position and name, with the reason.

    Examples
    --------
    >>> heic = b"\\x00\\x00\\x00\\x18ftypheic" + bytes(16)  # how an iPhone's HEIC starts
    >>> prepare_photos([("a.heic", heic)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    gridgis.cases.photos.PhotoError: photo 1 ('a.heic') is not a readable image: ...
    """
    if max_bytes is None or max_count is None or max_pixels is None:
        settings = config.settings()  # only when needed: it reads the environment
        max_bytes = settings.photo_max_bytes if max_bytes is None else max_bytes
        max_count = settings.photo_max_count if max_count is None else max_count
        max_pixels = settings.photo_max_pixels if max_pixels is None else max_pixels
    if len(files) > max_count:
        raise PhotoError(
            problems=[PhotoProblem(0, "", "too_many", {"count": len(files), "limit": max_count})]
        )
    photos: list[Photo] = []
    problems: list[PhotoProblem] = []
    for index, (name, data) in enumerate(files, start=1):
        try:
            photos.append(_prepare(name, data, max_bytes=max_bytes, max_pixels=max_pixels))
        except _Refused as refused:
            problems.append(PhotoProblem(index, name, refused.reason, refused.values))
    if problems:
        raise PhotoError(problems=problems)
    return photos


def check_link(url: object) -> str:
    """A photo link (Open311's ``media_url``): an http or https URL with a host, at most
    :data:`MAX_LINK_CHARS` characters, no spaces or control characters.

    Raises
    ------
    InputError
        Naming the value and what was expected.
    """
    from urllib.parse import urlsplit

    shown = repr(url) if len(repr(url)) <= 80 else repr(url)[:79] + "…"
    problem = f"`media_url` was {shown} but is expected to be an http or https URL"
    problem_zh = f"`media_url` 为 {shown}，应为 http 或 https 网址"
    if not isinstance(url, str):
        raise InputError(problem, zh=problem_zh)
    text = url.strip()
    if len(text) > MAX_LINK_CHARS:
        raise InputError(
            f"`media_url` has {len(text)} characters but may have at most {MAX_LINK_CHARS}",
            zh=f"`media_url` 有 {len(text)} 个字符，最多只能有 {MAX_LINK_CHARS} 个",
        )
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError(
            problem + " (with no spaces or control characters)",
            zh=problem_zh + "（不能含空格或控制字符）",
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise InputError(problem, zh=problem_zh) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InputError(problem, zh=problem_zh)
    return text


# --- the database --------------------------------------------------------------------------------


def add_photos(
    conn: Connection,
    case_id: int,
    photos: Sequence[Photo],
    *,
    store: PhotoStore,
    actor: str,
    event_id: int | None = None,
    street_code: str | None = None,
    written: list[str] | None = None,
) -> list[int]:
    """Store ``photos`` of case ``case_id`` (of its timeline entry ``event_id``, else filed
    with it), in the caller's transaction; each is audited.

    The bytes are written to ``store`` first; the keys newly written are appended to
    ``written``, for the caller to :func:`discard` if its transaction does not commit.

    Returns
    -------
    list of int
        The new photos' ids, in order.
    """
    if not photos:
        return []
    rows = []
    for photo in photos:
        key = f"{case_id}/{photo.sha256}.{photo.extension}"
        if store.put(key, photo.data) and written is not None:
            written.append(key)
        rows.append(
            {
                "case_id": case_id,
                "event_id": event_id,
                "kind": "upload",
                "storage_key": key,
                "content_type": photo.content_type,
                "width": photo.width,
                "height": photo.height,
                "bytes": len(photo.data),
                "sha256": photo.sha256,
                "created_by": actor,
            }
        )
    ids = [int(i) for i in conn.execute(insert(CasePhoto).returning(CasePhoto.id), rows).scalars()]
    for photo_id, row in zip(ids, rows, strict=True):
        audit.record(
            conn,
            actor=actor,
            action="photo",
            object_type="case",
            object_id=case_id,
            after={
                "photo_id": photo_id,
                "event_id": event_id,
                "content_type": row["content_type"],
                "bytes": row["bytes"],
                "sha256": row["sha256"],
            },
            street_code=street_code,
        )
    return ids


def add_link(
    conn: Connection,
    case_id: int,
    url: str,
    *,
    actor: str,
    street_code: str | None = None,
) -> int:
    """Keep ``url`` (checked by :func:`check_link`) as a photo of case ``case_id``; audited."""
    url = check_link(url)
    photo_id = int(
        conn.execute(
            insert(CasePhoto)
            .values(case_id=case_id, kind="link", storage_key=url, created_by=actor)
            .returning(CasePhoto.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        actor=actor,
        action="photo",
        object_type="case",
        object_id=case_id,
        after={"photo_id": photo_id, "link": url},
        street_code=street_code,
    )
    return photo_id


_COLUMNS = (
    CasePhoto.id,
    CasePhoto.case_id,
    CasePhoto.event_id,
    CasePhoto.kind,
    CasePhoto.storage_key,
    CasePhoto.content_type,
    CasePhoto.width,
    CasePhoto.height,
    CasePhoto.bytes,
    CasePhoto.sha256,
    CasePhoto.created_at,
    CasePhoto.created_by,
)
_OF_CASE = select(*_COLUMNS).where(CasePhoto.case_id == bindparam("case")).order_by(CasePhoto.id)
_ONE = select(*_COLUMNS).where(
    CasePhoto.case_id == bindparam("case"), CasePhoto.id == bindparam("id")
)


def _photo(row: Any) -> dict[str, Any]:
    photo = dict(row._mapping)
    photo["created_at"] = photo["created_at"].isoformat()
    photo["url"] = photo["storage_key"] if photo["kind"] == "link" else None
    return photo


def list_photos(connection: Engine | Connection, case_id: int) -> list[dict[str, Any]]:
    """The photos of case ``case_id``, oldest first: ``id``, ``event_id``, ``kind``,
    ``content_type``, ``width``, ``height``, ``bytes``, ``sha256``, ``created_at``,
    ``created_by``, ``storage_key`` and ``url`` (a link's; ``None`` for an upload)."""
    with queries.connection(connection) as conn:
        return [_photo(r) for r in conn.execute(_OF_CASE, {"case": case_id})]


def photos_by_event(connection: Engine | Connection, case_id: int) -> dict[int | None, list[int]]:
    """The ids of case ``case_id``'s photos by timeline entry (``None``: filed with it)."""
    found: dict[int | None, list[int]] = {}
    for photo in list_photos(connection, case_id):
        found.setdefault(photo["event_id"], []).append(photo["id"])
    return found


def first_photos(
    connection: Engine | Connection, case_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The first photo (lowest id) of each of ``case_ids`` that has one, by case id."""
    if not case_ids:
        return {}
    first = (
        select(func.min(CasePhoto.id))
        .where(CasePhoto.case_id.in_(list(case_ids)))
        .group_by(CasePhoto.case_id)
    )
    query = select(*_COLUMNS).where(CasePhoto.id.in_(first))
    with queries.connection(connection) as conn:
        return {row.case_id: _photo(row) for row in conn.execute(query)}


def get_photo(connection: Engine | Connection, case_id: int, photo_id: int) -> dict[str, Any]:
    """Photo ``photo_id`` of case ``case_id`` (:class:`NotFoundError` if it has none such)."""
    with queries.connection(connection) as conn:
        row = conn.execute(_ONE, {"case": case_id, "id": photo_id}).one_or_none()
    if row is None:
        raise NotFoundError(
            f"case {case_id} has no photo {photo_id}", zh=f"事件 {case_id} 没有照片 {photo_id}"
        )
    return _photo(row)


def read_photo(store: PhotoStore, photo: Mapping[str, Any]) -> bytes:
    """The stored bytes of an upload (a link has none: :class:`NotFoundError`)."""
    if photo["kind"] != "upload":
        raise NotFoundError(
            f"photo {photo['id']} is a link to {photo['storage_key']}",
            zh=f"照片 {photo['id']} 是指向 {photo['storage_key']} 的链接",
        )
    return store.get(photo["storage_key"])


def thumbnail(store: PhotoStore, photo: Mapping[str, Any]) -> bytes:
    """The photo's thumbnail (JPEG, :data:`THUMBNAIL_PIXELS` on its longer side, turned by its
    orientation), made on the first request and kept beside it in the store.

    Raises
    ------
    NotFoundError
        For a link, or a photo whose pixels cannot be decoded.
    """
    data = read_photo(store, photo)
    key = photo["storage_key"].rsplit(".", 1)[0] + ".thumb.jpg"
    try:
        return store.get(key)
    except NotFoundError:
        pass
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
            image.draft("RGB", (THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))  # JPEG: decode scaled down
            turned = ImageOps.exif_transpose(image)
            turned.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
            if turned.mode in ("RGBA", "LA", "P", "PA"):
                turned = turned.convert("RGBA")
                flat = Image.new("RGB", turned.size, "white")
                flat.paste(turned, mask=turned.getchannel("A"))
                turned = flat
            elif turned.mode != "RGB":
                turned = turned.convert("RGB")
            out = io.BytesIO()
            turned.save(out, "JPEG", quality=80)
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotFoundError(
            f"photo {photo['id']} cannot be decoded for a thumbnail: {exc}",
            zh=f"照片 {photo['id']} 无法解码，不能生成缩略图",
        ) from None
    small = out.getvalue()
    store.put(key, small)
    return small
