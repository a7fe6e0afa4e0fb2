"""Unpacking the zip files given to gridgis, refusing what could harm the machine.

Every zip gridgis reads (an uploaded layout, a zipped shapefile given to a
command) is unpacked by :func:`extract_archive` into a folder of gridgis's
own and read from there, never handed to GDAL as it came. Refused, with an
:class:`~gridgis.errors.InputError` (HTTP 400) that names the archive by the
name its sender knows (not a temporary path) and the member:

- links (a symbolic link named ``cells.shp`` pointing at ``/etc/passwd``
  would have the server read its own files) and anything else that is not
  a plain file or a folder;
- absolute paths, drive letters and ``..`` ("zip slip": writing outside the
  folder), and two members with one path;
- encrypted members;
- more than ``GRIDGIS_ARCHIVE_MAX_MEMBERS`` members (default 1000) or more
  than ``GRIDGIS_ARCHIVE_MAX_BYTES`` unpacked (default 1 GiB): zip bombs are
  refused from the archive's directory before anything is written, and the
  bytes written are counted again while unpacking.

Member names written without the UTF-8 flag (Windows zip tools in China
write GBK) are shown decoded as UTF-8 or GBK when they decode strictly.
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from gridgis import config
from gridgis.errors import InputError, listing, listing_zh

__all__ = ["extract_archive"]

_CHUNK = 1024 * 1024
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_DRIVE = re.compile(r"^[A-Za-z]:")
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author wrote it: legacy (non-UTF-8) names tried as UTF-8, then GBK.

    Examples
    --------
    >>> info = zipfile.ZipInfo("网格.shp".encode("gbk").decode("cp437"))
    >>> member_name(info)
    '网格.shp'
    """
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _declared_entries(handle: BinaryIO) -> int | None:
    """The number of members the end of the archive declares, read before Python lists them.

    ``zipfile`` builds an object per member while opening; a 50 MB zip of a million
    empty members must be refused before that. ``None`` when the end record is not found
    (``zipfile`` then says what is wrong).
    """
    handle.seek(0, 2)
    size = handle.tell()
    tail_start = max(0, size - (22 + 65535))
    handle.seek(tail_start)
    tail = handle.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        return None
    entries = int(struct.unpack("<H", tail[at + 10 : at + 12])[0])
    if entries != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != _ZIP64_LOCATOR:
        return entries
    (record,) = struct.unpack("<Q", tail[at - 12 : at - 4])
    handle.seek(int(record) + 32)
    data = handle.read(8)
    return int(struct.unpack("<Q", data)[0]) if len(data) == 8 else None


def _relative_parts(shown: str) -> tuple[str, ...] | None:
    """The path of a member as parts below the folder, or ``None`` for a path that leaves it."""
    text = shown.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text) or "\x00" in text:
        return None
    parts = tuple(p for p in PurePosixPath(text).parts if p not in ("", "."))
    if ".." in parts:
        return None
    return parts


def _checked_members(
    archive: zipfile.ZipFile, shown_archive: str
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Every member with its path, after refusing links, escapes, repeats, encryption, bombs."""
    members: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    problems: list[str] = []
    problems_zh: list[str] = []
    seen: set[tuple[str, ...]] = set()
    total = 0
    for info in archive.infolist():
        shown = member_name(info)
        mode = info.external_attr >> 16
        parts = _relative_parts(shown)
        if stat.S_ISLNK(mode):
            problems.append(f"{shown!r} is a symbolic link; links are refused")
            problems_zh.append(f"{shown!r} 是符号链接，不接受链接")
        elif stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            problems.append(f"{shown!r} is not a plain file")
            problems_zh.append(f"{shown!r} 不是普通文件")
        elif parts is None:
            problems.append(f"{shown!r} has an absolute path or '..': it would leave its folder")
            problems_zh.append(f"{shown!r} 的路径是绝对路径或含有 '..'：会解压到文件夹之外")
        elif info.flag_bits & _ENCRYPTED_FLAG:
            problems.append(f"{shown!r} is encrypted")
            problems_zh.append(f"{shown!r} 已加密")
        elif parts and not info.is_dir():
            if parts in seen:
                problems.append(f"{shown!r} is in the archive twice")
                problems_zh.append(f"{shown!r} 在压缩文件中出现了两次")
            seen.add(parts)
            total += info.file_size
            members.append((info, parts))
    if problems:
        raise InputError(
            f"{shown_archive} cannot be read: " + listing(problems),
            zh=f"无法读取 {shown_archive}：" + listing_zh(problems_zh),
        )
    limit = config.settings().archive_max_bytes
    if total > limit:
        raise InputError(
            f"{shown_archive} would unpack to {total:,} bytes, more than the {limit:,} allowed "
            "(GRIDGIS_ARCHIVE_MAX_BYTES)",
            zh=f"{shown_archive} 解压后有 {total:,} 字节，超过了允许的 {limit:,} 字节",
        )
    return members


def extract_archive(path: str | Path, folder: str | Path, *, name: str | None = None) -> list[Path]:
    """Unpack a zip file into ``folder`` after checking every member; return the files written.

    Parameters
    ----------
    path:
        The zip file.
    folder:
        An empty folder of the caller's (e.g. a temporary one) to unpack into.
    name:
        The archive's name in messages (an upload's own name); default ``path``.

    Returns
    -------
    list of Path
        The files unpacked, in the archive's order (folders are made, not listed).

    Raises
    ------
    InputError
        When the file is not a zip, or holds a link, a special file, an absolute
        path or ``..``, one path twice, an encrypted member, too many members or
        too many bytes (see the module's description); nothing is unpacked then.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     tmp = Path(folder)
    ...     with zipfile.ZipFile(tmp / "cells.zip", "w") as archive:
    ...         for suffix in ("shp", "shx", "dbf"):
    ...             archive.writestr(f"cells.{suffix}", b"")
    ...     extract_archive(tmp / "cells.zip", tmp / "cells", name="网格.zip")
    [PosixPath('/tmp/.../cells.shp'), PosixPath('/tmp/.../cells.shx'), ...]
    """
    source = Path(path)
    shown_archive = name or str(source)
    target = Path(folder)
    max_members = config.settings().archive_max_members
    try:
        with source.open("rb") as handle:
            declared = _declared_entries(handle)
            if declared is not None and declared > max_members:
                raise InputError(
                    f"{shown_archive} holds {declared:,} files, more than the {max_members:,} "
                    "allowed (GRIDGIS_ARCHIVE_MAX_MEMBERS)",
                    zh=f"{shown_archive} 中有 {declared:,} 个文件，超过了允许的 {max_members:,} 个",
                )
            with zipfile.ZipFile(handle) as archive:
                if len(archive.infolist()) > max_members:
                    raise InputError(
                        f"{shown_archive} holds {len(archive.infolist()):,} files, more than the "
                        f"{max_members:,} allowed (GRIDGIS_ARCHIVE_MAX_MEMBERS)",
                        zh=f"{shown_archive} 中有 {len(archive.infolist()):,} 个文件，"
                        f"超过了允许的 {max_members:,} 个",
                    )
                members = _checked_members(archive, shown_archive)
                return [
                    _unpack(archive, info, parts, target, shown_archive) for info, parts in members
                ]
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        zlib.error,
        EOFError,
    ) as exc:
        raise InputError(
            f"{shown_archive} is not a readable zip file: {exc}",
            zh=f"{shown_archive} 不是可以打开的 zip 压缩文件，或文件已损坏",
        ) from exc


def _unpack(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    parts: tuple[str, ...],
    folder: Path,
    shown_archive: str,
) -> Path:
    """Write one checked member as a new plain file, counting its bytes against its stated size."""
    out = folder.joinpath(*parts)
    shown = member_name(info)
    written = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as data, out.open("xb") as sink:
            while chunk := data.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise InputError(
                        f"{shown_archive}: {shown!r} unpacks to more bytes than the archive says",
                        zh=f"{shown_archive}：{shown!r} 解压后的字节数多于压缩文件中记载的大小",
                    )
                sink.write(chunk)
    except OSError as exc:
        raise InputError(
            f"{shown_archive}: {shown!r} cannot be unpacked ({exc.strerror})",
            zh=f"{shown_archive}：{shown!r} 无法解压（{exc.strerror}）",
        ) from exc
    return out
