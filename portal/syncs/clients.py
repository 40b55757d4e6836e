"""Every kintone and 配配メール client of the portal is built here, from typed access objects.

Callers say what they need the client for (`RUN`: a sync run in a worker; `INTERACTIVE`: a
button on the settings page that the user waits for) and, for runs, which daily budgets to
charge. The profiles hold the timeouts and retry bounds that docs/decisions.md documents
(「kintone・配配メールへの通信のタイムアウトと再試行」); nothing else in the portal picks them.

Clients built while a run is active (`portal.syncs.context.current_run`) are fenced: before each
write request to kintone and each CSV upload to 配配メール they ask the run's guard whether this
process still owns the run, and stop (RunFenced) if not. The run's daily budgets wait out a Redis
outage as long as the run allows. A run's kintone client also holds a slot of its kintone domain
(`portal.domain_slots`, shared through Redis by every worker) for each request while it is on
the wire, so the deployment never sends a domain more than `KINTONE_DOMAIN_CONCURRENCY`
requests at once.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
import requests
from requests.adapters import BaseAdapter

from portal.domain_slots import DomainSlots, SlotTimeout
from portal.integrations import haihai as haihai_api
from portal.integrations import kintone as kintone_api
from portal.integrations.haihai import HaihaiClient
from portal.integrations.kintone import KintoneClient, KintoneThrottledError, kintone_base_url
from portal.integrations.ledger import DailyLedger
from portal.integrations.retrying import RetryPolicy
from portal.syncs.config import ConnectorConfig, HaihaiAccess, KintoneAccess
from portal.syncs.context import RunFailed, WriteGuard, current_run
from portal.syncs.record_read import domain_concurrency

log = logging.getLogger(__name__)

# Shared by every sync handler so every process of an account draws from one budget.
BUDGET_PREFIX = "portal:budget"
HAIHAI_DAILY_CALLS = 240  # per API and account (配配メール's own limit)
DEFAULT_KINTONE_TEMPLATE = "https://{subdomain}.cybozu.com"

MSG_NO_KINTONE = (
    "kintone連携設定が完了していません。"
    "連携設定画面の「Step3. kintone連携設定」でサブドメイン名・アプリID・APIトークンを設定してください。"
)
MSG_NO_HAIHAI = (
    "配配メール連携設定が完了していません。"
    "連携設定画面の「Step2. 配配メール連携設定」で配配メールURL・ログインID・APIトークンを設定してください。"
)
MSG_BAD_ACCESS = (
    "接続先の設定が正しくありません。"
    "「Step2. 配配メール連携設定」と「Step3. kintone連携設定」を確認してください。"
)


@dataclass(frozen=True)
class CallProfile:
    """Timeouts (seconds) and retry bounds of one kind of use."""

    name: str
    timeout: float  # waiting for each answer
    connect_timeout: float  # opening each connection
    kintone_retry: RetryPolicy
    haihai_retry: RetryPolicy
    import_timeout: float = 300.0  # waiting for the answer to one CSV upload (never retried)


# A run: up to two timed-out attempts per call, no retry started after 60 s.
RUN = CallProfile(
    "run",
    timeout=kintone_api.DEFAULT_TIMEOUT,
    connect_timeout=kintone_api.DEFAULT_CONNECT_TIMEOUT,
    kintone_retry=kintone_api.DEFAULT_RETRY,
    haihai_retry=haihai_api.DEFAULT_RETRY,
)
# A settings-page button: one quick retry of fast failures, none after a timeout.
_INTERACTIVE_RETRY = RetryPolicy(
    attempts=2, base_delay=0.3, max_delay=1.0, max_timeouts=1, budget=10.0
)
INTERACTIVE = CallProfile(
    "interactive",
    timeout=15.0,
    connect_timeout=5.0,
    kintone_retry=_INTERACTIVE_RETRY,
    haihai_retry=_INTERACTIVE_RETRY,
)


@dataclass(frozen=True)
class Ledgers:
    """The daily budgets a run's clients charge (None: not counted)."""

    kintone: DailyLedger | None = None
    haihai: DailyLedger | None = None


def kintone_access(
    template: str | None, subdomain: str, app_id: str, api_token: str
) -> KintoneAccess:
    """The access object of a kintone app; ValueError when the subdomain is malformed."""
    base_url = kintone_base_url(template or DEFAULT_KINTONE_TEMPLATE, subdomain)
    return KintoneAccess(base_url, subdomain, app_id, api_token)


def kintone_client(
    access: KintoneAccess, *, profile: CallProfile = RUN, ledger: DailyLedger | None = None
) -> KintoneClient:
    """A client of `access`'s domain with the profile's timeouts; ValueError when malformed."""
    client = KintoneClient(
        access.base_url,
        api_tokens=[access.api_token],
        timeout=profile.timeout,
        connect_timeout=profile.connect_timeout,
        retry=profile.kintone_retry,
        ledger=ledger,
    )
    run = current_run()
    if run is not None and run.redis is not None:
        limit = domain_concurrency(run.app_config)
        hold_domain_slots(client, DomainSlots(run.redis, client.host, limit))
    if run is not None and run.guard is not None:
        fence_kintone(client, run.guard)
    return client


def kintone_login_client(
    base_url: str, login: str, password: str, *, profile: CallProfile = INTERACTIVE
) -> KintoneClient:
    """A client signed in with a kintone user's login (app creation; the password is not kept)."""
    return KintoneClient(
        base_url,
        username=login,
        password=password,
        timeout=profile.timeout,
        connect_timeout=profile.connect_timeout,
        retry=profile.kintone_retry,
    )


def haihai_client(
    access: HaihaiAccess,
    *,
    allow_local: bool,
    profile: CallProfile = RUN,
    ledger: DailyLedger | None = None,
) -> HaihaiClient:
    """A client of `access`'s account with the profile's timeouts; ValueError when malformed.

    `allow_local` accepts the sandbox's http://127.0.0.1 URLs (demo and tests).
    """
    client = HaihaiClient(
        access.base_url,
        access.login_id,
        access.api_token,
        timeout=profile.timeout,
        connect_timeout=profile.connect_timeout,
        import_timeout=profile.import_timeout,
        retry=profile.haihai_retry,
        allow_local=allow_local,
        ledger=ledger,
    )
    run = current_run()
    if run is not None and run.guard is not None:
        fence_haihai(client, run.guard)
    return client


def run_ledgers(redis_conn, *, kintone_daily_limit: int | None) -> Ledgers:
    """The shared daily budgets of a run (kintone: refused above `kintone_daily_limit`, or only
    counted when None; 配配メール: its own 240 calls per API)."""
    if redis_conn is None:
        return Ledgers()
    run = current_run()
    wait = run.redis_wait if run is not None else 0.0
    return Ledgers(
        kintone=DailyLedger(redis_conn, BUDGET_PREFIX, limit=kintone_daily_limit, outage_wait=wait),
        haihai=DailyLedger(redis_conn, BUDGET_PREFIX, limit=HAIHAI_DAILY_CALLS, outage_wait=wait),
    )


def make_sync_clients(
    config: ConnectorConfig,
    *,
    allow_local: bool,
    redis_conn=None,
    kintone_daily_limit: int | None = None,
    profile: CallProfile = RUN,
) -> tuple[KintoneClient, HaihaiClient]:
    """The clients of `config` (daily budgets shared through Redis when given); RunFailed when
    the kintone or 配配メール access is missing or malformed."""
    if config.kintone is None:
        raise RunFailed(MSG_NO_KINTONE, code="settings")
    if config.haihai is None:
        raise RunFailed(MSG_NO_HAIHAI, code="settings")
    ledgers = run_ledgers(redis_conn, kintone_daily_limit=kintone_daily_limit)
    try:
        kintone = kintone_client(config.kintone, profile=profile, ledger=ledgers.kintone)
    except ValueError as error:
        raise RunFailed(MSG_BAD_ACCESS, code="settings") from error
    try:
        haihai = haihai_client(
            config.haihai, allow_local=allow_local, profile=profile, ledger=ledgers.haihai
        )
    except BaseException as error:
        kintone.close()
        if isinstance(error, ValueError):
            raise RunFailed(MSG_BAD_ACCESS, code="settings") from error
        raise
    return kintone, haihai


# --- fencing -------------------------------------------------------------------------------

# kintone requests that change nothing although they are not GETs: cursors are read handles.
_KINTONE_NON_WRITES = ("/records/cursor.json",)


def is_kintone_write(request: requests.PreparedRequest) -> bool:
    """Whether a kintone request may change data (reads sent as POST + override are not)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    if request.headers.get("X-HTTP-Method-Override", "").upper() == "GET":
        return False
    path = urlsplit(request.url or "").path
    return not path.endswith(_KINTONE_NON_WRITES)


class GuardedAdapter(BaseAdapter):
    """A transport adapter that asks `guard` before sending a write, then delegates."""

    def __init__(self, inner: BaseAdapter, guard: WriteGuard, target: str) -> None:
        super().__init__()
        self.inner = inner
        self.guard = guard
        self.target = target

    def send(self, request, **kwargs):  # type: ignore[override]
        """Check ownership for write requests (every attempt, retries included), then send."""
        if is_kintone_write(request):
            self.guard.before_write(self.target)
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        """Close the wrapped adapter."""
        self.inner.close()


# --- per-domain request slots ----------------------------------------------------------------

SLOT_WAIT = 60.0  # seconds one attempt waits for a free slot before counting as a 429


class SlotAdapter(BaseAdapter):
    """A transport adapter that holds a slot of the domain's DomainSlots around each send."""

    def __init__(self, inner: BaseAdapter, slots: DomainSlots, wait: float = SLOT_WAIT) -> None:
        super().__init__()
        self.inner = inner
        self.slots = slots
        self.wait = wait

    def send(self, request, **kwargs):  # type: ignore[override]
        """Take a slot (waiting at most `wait` s), send, give the slot back."""
        try:
            token = self.slots.acquire(timeout=self.wait)
        except SlotTimeout as error:
            # Like kintone's own refusal: nothing was sent, so the client's retries apply.
            raise KintoneThrottledError(
                "GAIA_TO04", f"no free request slot of {self.slots.domain}", status=429
            ) from error
        except redis.RedisError as error:
            # Redis down: the request goes without a slot rather than failing the run; the
            # domain's own limit (429, retried) still protects it.
            log.warning("kintone_slot_unavailable domain=%s error=%s", self.slots.domain, error)
            return self.inner.send(request, **kwargs)
        try:
            return self.inner.send(request, **kwargs)
        finally:
            with contextlib.suppress(redis.RedisError):  # else the lease frees it by itself
                self.slots.release(token)

    def close(self) -> None:
        """Close the wrapped adapter."""
        self.inner.close()


def hold_domain_slots(client: KintoneClient, slots: DomainSlots) -> None:
    """Make every request of `client` (each attempt) hold one of `slots` while on the wire."""
    session = client.session
    for prefix, adapter in list(session.adapters.items()):
        session.mount(prefix, SlotAdapter(adapter, slots))


def fence_kintone(client: KintoneClient, guard: WriteGuard) -> None:
    """Make every write request of `client` pass `guard` first (its session's adapters)."""
    session = client.session
    for prefix, adapter in list(session.adapters.items()):
        session.mount(prefix, GuardedAdapter(adapter, guard, "kintone"))


def fence_haihai(client: HaihaiClient, guard: WriteGuard) -> None:
    """Make every CSV upload of `client` pass `guard` first (each attempt, retries included)."""
    transport = client.transport
    upload = transport.submit_import

    def guarded_upload(*args, **kwargs):
        guard.before_write("haihai")
        return upload(*args, **kwargs)

    # The upload is 配配メール's only write; replacing it on this transport object leaves the
    # client's retry, budget and error handling untouched.
    transport.submit_import = guarded_upload  # type: ignore[method-assign]
