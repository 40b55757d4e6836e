"""Which kintone fields of the customer app a connector's processes already use, and for what.

A process that writes into a field of the customer app (顧客閲覧URL連携's 連携先) must not pick a
field another process reads as its key or writes itself: the next run would overwrite it. Each
use is worded as the end of a sentence 「「<項目名>」は<use>。」 for the refusal.

A process's configuration type takes part by defining `claimed_fields() -> dict[code, use]`
(e.g. Step6's rules); the mail-address row and the other rows of Step4 are shared settings and
are claimed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portal.syncs.config import ConnectorConfig

USE_EMAIL = "メールアドレスの連携に使用している項目です"
USE_MAPPING = "Step4の連携項目に設定されている項目です"


def mapping_claims(codes: Iterable[str], email_code: str | None) -> dict[str, str]:
    """The Step4 rows' fields: the mail-address field first, then every mapped field."""
    claims: dict[str, str] = {}
    if email_code:
        claims[email_code] = USE_EMAIL
    for code in codes:
        claims.setdefault(code, USE_MAPPING)
    return claims


def section_claims(value: Any) -> dict[str, str]:
    """What one process's configuration object claims ({} when it claims nothing)."""
    claimed = getattr(value, "claimed_fields", None)
    return dict(claimed()) if callable(claimed) else {}


def config_claims(config: ConnectorConfig, *, skip: str | None = None) -> dict[str, str]:
    """Every claimed field of `config`, the section `skip` (the asking process) left out."""
    email = config.email_mapping
    claims = mapping_claims(
        (m.kintone_code for m in config.mappings), email.kintone_code if email else None
    )
    for key, value in config.sections.items():
        if key != skip:
            for code, use in section_claims(value).items():
                claims.setdefault(code, use)
    return claims


def collision(code: str, claims: Mapping[str, str], fields: Mapping[str, Any]) -> str | None:
    """「「<label>」は<use>」 when `code` is claimed, else None."""
    use = claims.get(code)
    if use is None:
        return None
    label = str((fields.get(code) or {}).get("label") or code)
    return f"「{label}」は{use}"
