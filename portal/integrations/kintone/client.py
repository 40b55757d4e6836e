"""`KintoneClient`: every operation of the kintone REST API the portal uses, in one object.

The client speaks the public REST API (`/k/v1/...`) and works unchanged against
`https://<subdomain>.cybozu.com` and against the local sandbox (`http://127.0.0.1:P/<subdomain>`).
Its parts live next to it: `transport` (HTTP, retries, timeouts, error decoding), `records`
(reads and streaming), `writes` (bulk writes), `apps` (app and form settings).
"""

from __future__ import annotations

from portal.integrations.kintone.apps import AppSettings
from portal.integrations.kintone.records import RecordReads
from portal.integrations.kintone.writes import RecordWrites


class KintoneClient(AppSettings, RecordWrites, RecordReads):
    """Client of one kintone domain (or guest space) with token or password authentication.

    One client may be shared by several threads. Close it (or use it as a context manager) to
    delete its open cursors, stop its worker threads and close the HTTP session it created.
    Construct it through `portal.syncs.clients` in the portal, which applies the documented
    timeouts and retries.
    """

    def __enter__(self) -> KintoneClient:
        return self
