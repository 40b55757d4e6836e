"""The 配配メール account URL: validation and normal form (https://xxxx.hm-f.jp/mXXXXX/)."""

from __future__ import annotations

import re
from dataclasses import dataclass


class HaihaiUrlError(ValueError):
    """Not a 配配メール account URL; the settings page shows the manual's message for it."""


# One DNS label under hm-f.jp (the manual's xxxx, e.g. a03), then the account path mXXXXX.
_PRODUCTION_URL = re.compile(
    r"https://(?P<host>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.hm-f\.jp)/(?P<key>m[0-9a-z]{1,32})/?",
    re.IGNORECASE,
)
_LOCAL_URL = re.compile(
    r"http://(?P<host>127\.0\.0\.1|localhost):(?P<port>[0-9]{1,5})/(?P<key>m[0-9a-z]{1,32})/?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class HaihaiAccountUrl:
    """A validated 配配メール account URL; `base_url` always ends with a slash."""

    scheme: str
    host: str
    port: int | None
    account_key: str

    @property
    def is_local(self) -> bool:
        """True for the loopback sandbox URLs accepted only with allow_local."""
        return self.scheme == "http"

    @property
    def netloc(self) -> str:
        """Host with the port when one is given."""
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    @property
    def base_url(self) -> str:
        """Normalised URL, e.g. https://a03.hm-f.jp/m12345/."""
        return f"{self.scheme}://{self.netloc}/{self.account_key}/"

    def __str__(self) -> str:
        return self.base_url


def parse_haihai_url(url: str, allow_local: bool = False) -> HaihaiAccountUrl:
    """Validate a 配配メール URL (https://xxxx.hm-f.jp/mXXXXX/); raise HaihaiUrlError.

    With `allow_local` (demo/test configuration) http://127.0.0.1:P/mXXXXX/ and
    http://localhost:P/mXXXXX/ are accepted too. The trailing slash is optional; surrounding
    whitespace is ignored; nothing else (query, fragment, extra path, credentials) is allowed.
    """
    if not isinstance(url, str):
        raise HaihaiUrlError(f"not a 配配メール account URL: {url!r}")
    text = url.strip()
    match = _PRODUCTION_URL.fullmatch(text)
    if match:
        return HaihaiAccountUrl("https", match["host"].lower(), None, match["key"])
    if allow_local:
        match = _LOCAL_URL.fullmatch(text)
        if match and 0 < int(match["port"]) < 65536:
            return HaihaiAccountUrl("http", match["host"].lower(), int(match["port"]), match["key"])
    raise HaihaiUrlError(f"not a 配配メール account URL: {url!r}")
