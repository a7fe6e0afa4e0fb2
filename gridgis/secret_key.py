"""The secret key gridgis generates for the web app when none is configured.

It is kept in ``GRIDGIS_HOME/secret_key`` (:data:`gridgis.config.SECRET_KEY_FILE`),
written once, whole, with mode 600; every process of every server reads the same key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from gridgis.errors import ConfigError

__all__ = ["read_key", "write_key"]


def read_key(path: Path) -> str | None:
    """The key kept at ``path`` (``None``: there is none yet); a short one is an error."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if len(key) < 32:
        raise ConfigError(
            f"the secret key file {str(path)!r} holds {len(key)} characters but is expected to "
            "hold at least 32; delete it to have a new one generated (signed-in users will "
            "have to log in again)",
            zh=f"密钥文件 {path.name} 只有 {len(key)} 个字符，至少应有 32 个；删除它即可重新生成"
            "（已登录的用户需要重新登录）",
        )
    return key


def write_key(path: Path) -> str:
    """Write a new key to ``path`` unless another process got there first; return the key kept.

    The key is written whole to a private temporary file, which is then
    hard-linked to ``path``: linking fails when ``path`` exists, so of two
    processes racing, the second reads the first one's key and nobody ever
    reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            kept = read_key(path)
            if kept is None:  # removed meanwhile: unlikely, and a retry settles it
                return write_key(path)
            return kept
    finally:
        temporary.unlink(missing_ok=True)
    return key
