"""Matching kintone records to 配配メール customers by mail address.

The local part is compared exactly (mail systems may treat `Taro` and `taro` as different
mailboxes); the domain is compared case-insensitively (DNS names are). Surrounding whitespace,
which kintone text fields often carry, is ignored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_SPACE = re.compile(r"\s")  # the characters str.isspace() accepts


def email_key(address: object) -> str | None:
    """The comparison key of a mail address, or None when it is not an address at all."""
    if not isinstance(address, str):
        return None
    text = address.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or _SPACE.search(text):
        return None
    return f"{local}@{domain.lower()}"


def email_hash(address: object) -> int | None:
    """A 64-bit hash of the comparison key (None when not an address); collisions ~1e-8 at 1e7."""
    key = email_key(address)
    if key is None:
        return None
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def emails_match(a: object, b: object) -> bool:
    """True when two addresses name the same mailbox under the portal's matching rule."""
    key = email_key(a)
    return key is not None and key == email_key(b)


def index_by_email(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A lookup {email key: value} from (address, value) pairs; the first address wins."""
    index: dict[str, str] = {}
    for address, value in pairs:
        key = email_key(address)
        if key is not None and key not in index:
            index[key] = value
    return index
