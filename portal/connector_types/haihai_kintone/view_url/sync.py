"""顧客閲覧URL連携 (manual 付録3): each customer's 配配メール view-page URL into a kintone field.

All kintone records are streamed (mail-address field and target field only, `$id` partitions
read at once); the 配配メール customers' URLs are loaded into an index by mail address in a
thread meanwhile (up to EARLY_RECORDS records wait, compacted, until it is ready). A record whose
address matches and whose field differs from the URL is written back, 2,000 records per
bulkRequest call, while reading continues. Unchanged records cost no write call at all.

Counts (処理件数): total = kintone records read; processed = records fully handled (compared,
and written when needed). A kintone app without records ends 成功 0 / 0, as in the manual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from portal.connector_types.haihai_kintone.view_url.config import SECTION_KEY, view_url_setting
from portal.integrations.haihai import HaihaiClient, HaihaiError
from portal.integrations.kintone import KintoneClient, KintoneError
from portal.integrations.ledger import BudgetExceeded
from portal.messages.haihai import haihai_error_code, haihai_message
from portal.messages.kintone import kintone_error_code, kintone_message, view_url_step
from portal.syncs.clients import MSG_NO_HAIHAI, MSG_NO_KINTONE, make_sync_clients
from portal.syncs.config import ConnectorConfig
from portal.syncs.context import RunContext, RunFailed, RunOutcome
from portal.syncs.email_match import email_key, index_by_email
from portal.syncs.field_claims import collision, config_claims
from portal.syncs.record_read import read_records

log = logging.getLogger(__name__)

TARGET_FIELD_TYPES = {
    "SINGLE_LINE_TEXT": "文字列(1行)",
    "MULTI_LINE_TEXT": "文字列(複数行)",
    "LINK": "リンク",
}
WRITE_CHUNK = 2000  # records per bulkRequest call
EARLY_RECORDS = 50_000  # records kept (id, address, value: ~0.2 KB each) while URLs load
KINTONE_DAILY_CALLS = 10_000  # per app (kintone's documented daily request limit)

MSG_NO_TARGET = (
    "顧客閲覧URL連携の連携項目（連携先のkintone項目）が設定されていません。"
    "連携設定画面の「Step7. 顧客閲覧URL連携」で連携項目を設定してください。"
)
MSG_NO_EMAIL = (
    "メールアドレスの連携項目が設定されていません。"
    "連携設定画面の「Step4. 連携項目設定」でkintoneのメールアドレス項目を設定してください。"
)

# The target is checked again before a run: settings saved before this rule, or changed since.
MSG_TARGET_IN_USE = (
    "顧客閲覧URLの連携先のkintone項目が他の連携と重複しています。{use}。"
    "連携設定画面の「Step7. 顧客閲覧URL連携」で、他の連携で使用していないkintone項目を"
    "連携項目に設定してください。"
)


@dataclass(frozen=True)
class ViewUrlResult:
    """What one view-URL sync did."""

    read: int  # kintone records read (total)
    processed: int  # records handled
    matched: int  # records whose address is a 配配メール customer with a URL
    updated: int  # records written
    customers: int  # 配配メール customers with a URL
    kintone_calls: int
    haihai_calls: int


def planned_update(
    record: Mapping[str, Any], email_code: str, target_code: str, urls: Mapping[str, str]
) -> dict | None:
    """The kintone update for one record, or None when it has no match or already holds the URL."""
    key = email_key((record.get(email_code) or {}).get("value"))
    if key is None:
        return None
    url = urls.get(key)
    if url is None:
        return None
    current = (record.get(target_code) or {}).get("value") or ""
    if current == url:
        return None
    return {"id": int(record["$id"]["value"]), "record": {target_code: {"value": url}}}


class _UrlIndex:
    """The 配配メール customers' view URLs by address, loaded in a thread while kintone is read."""

    def __init__(self, haihai: HaihaiClient) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="view-urls")
        self._loading = self._pool.submit(lambda: index_by_email(haihai.iter_view_urls()))

    def ready(self) -> bool:
        return self._loading.done()

    def get(self) -> Mapping[str, str]:
        """The index (waits for it; raises the load's error)."""
        return self._loading.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _compact(record: Mapping[str, Any], email_code: str, target_code: str) -> tuple:
    return (
        record["$id"]["value"],
        (record.get(email_code) or {}).get("value"),
        (record.get(target_code) or {}).get("value"),
    )


def _expand(values: tuple, email_code: str, target_code: str) -> dict[str, Any]:
    record_id, address, current = values
    return {
        "$id": {"value": record_id},
        email_code: {"value": address},
        target_code: {"value": current},
    }


def _check_fields(properties: Mapping[str, Mapping], email_code: str, target_code: str) -> None:
    if email_code not in properties:
        raise RunFailed(
            f"kintoneアプリにメールアドレスの連携項目（フィールドコード: {email_code}）が見つかりません。"
            "「kintone項目の同期」を行い、「Step4. 連携項目設定」を確認してください。",
            code="field_missing",
        )
    target = properties.get(target_code)
    if target is None:
        raise RunFailed(
            f"顧客閲覧URLの連携先のkintone項目（フィールドコード: {target_code}）がkintoneアプリに見つかりません。"
            "「kintone項目の同期」を行い、「Step7. 顧客閲覧URL連携」の連携項目を設定し直してください。",
            code="field_missing",
        )
    if target.get("type") not in TARGET_FIELD_TYPES:
        label = target.get("label") or target_code
        raise RunFailed(
            f"顧客閲覧URLの連携先のkintone項目「{label}」は連携できない種類のフィールドです。"
            "文字列(1行)、文字列(複数行)、リンクのいずれかのフィールドを指定してください。",
            code="field_type",
        )


def sync_view_urls(
    config: ConnectorConfig,
    *,
    kintone: KintoneClient,
    haihai: HaihaiClient,
    progress: Callable[[int, int], None] | None = None,
) -> ViewUrlResult:
    """Write each matching customer's view URL into the configured kintone field.

    Raises RunFailed for settings problems; client errors (KintoneError, HaihaiError,
    BudgetExceeded) propagate with `.processed`/`.total` attributes set for the run log.
    """
    target_code = view_url_setting(config).target_field
    if not target_code:
        raise RunFailed(MSG_NO_TARGET, code="settings")
    mapping = config.email_mapping
    if mapping is None:
        raise RunFailed(MSG_NO_EMAIL, code="settings")
    if config.kintone is None:
        raise RunFailed(MSG_NO_KINTONE, code="settings")
    if config.haihai is None:
        raise RunFailed(MSG_NO_HAIHAI, code="settings")
    used = collision(target_code, config_claims(config, skip=SECTION_KEY), config.kintone_fields)
    if used is not None:
        raise RunFailed(MSG_TARGET_IN_USE.format(use=used), code="settings")
    app = int(config.kintone.app_id)
    email_code = mapping.kintone_code

    # The fields may have changed since the settings were saved; never write to the wrong one.
    _check_fields(kintone.get_form_fields(app, explain_refusal=True), email_code, target_code)
    index = _UrlIndex(haihai)
    try:
        return _sync(app, email_code, target_code, kintone, haihai, index, progress)
    finally:
        index.close()


def _sync(
    app: int,
    email_code: str,
    target_code: str,
    kintone: KintoneClient,
    haihai: HaihaiClient,
    index: _UrlIndex,
    progress: Callable[[int, int], None] | None,
) -> ViewUrlResult:
    """Read every record (`$id` partitions at once) and write the URLs that differ."""
    state = {"read": 0, "queued": 0, "written": 0, "matched": 0, "total": 0}
    records = read_records(kintone, app, "", [email_code, target_code])
    urls: dict[str, Mapping[str, str]] = {}
    early: list[tuple] = []  # (id, address, value) of records read before the URLs were loaded

    def report() -> None:
        if progress is not None:
            # Records waiting for the URLs or whose update is in flight are not handled yet.
            handled = state["read"] - len(early) - (state["queued"] - state["written"])
            progress(handled, max(state["total"], state["read"]))

    def decide(record: Mapping[str, Any]) -> Iterator[dict]:
        by_email = urls["index"]
        key = email_key((record.get(email_code) or {}).get("value"))
        if key is not None and key in by_email:
            state["matched"] += 1
        update = planned_update(record, email_code, target_code, by_email)
        if update is not None:
            state["queued"] += 1
            yield update

    def updates() -> Iterator[dict]:
        state["total"] = records.total_count or 0
        report()
        for record in records:
            state["read"] += 1
            if not urls:
                if not index.ready() and len(early) < EARLY_RECORDS:
                    early.append(_compact(record, email_code, target_code))
                    continue
                urls["index"] = index.get()
                yield from flush()
            yield from decide(record)
            if state["read"] % 500 == 0:
                report()
        if not urls:
            urls["index"] = index.get()
        yield from flush()

    def flush() -> Iterator[dict]:
        while early:
            yield from decide(_expand(early.pop(), email_code, target_code))

    def written(done: int, _total: int | None) -> None:
        state["written"] = done
        report()

    try:
        kintone.update_records(app, updates(), on_progress=written)
    except (KintoneError, HaihaiError, BudgetExceeded) as error:
        report_state = getattr(error, "write_report", None)
        if report_state is not None:
            state["written"] = report_state.done
        error.processed = max(0, state["read"] - (state["queued"] - state["written"]))  # type: ignore[attr-defined]
        error.total = max(state["total"], state["read"])  # type: ignore[attr-defined]
        raise
    finally:
        records.close()
    state["written"] = state["queued"]
    report()
    return ViewUrlResult(
        read=state["read"],
        processed=state["read"],
        matched=state["matched"],
        updated=state["queued"],
        customers=len(urls.get("index") or index.get()),
        kintone_calls=kintone.calls,
        haihai_calls=haihai.transport.calls,
    )


# --- the run handler -----------------------------------------------------------------------


def make_clients(
    config: ConnectorConfig, *, allow_local: bool, redis_conn=None
) -> tuple[KintoneClient, HaihaiClient]:
    """The kintone and 配配メール clients of `config`, with shared daily budgets when Redis is given."""
    return make_sync_clients(
        config,
        allow_local=allow_local,
        redis_conn=redis_conn,
        kintone_daily_limit=KINTONE_DAILY_CALLS,
    )


def run_view_url(context: RunContext) -> RunOutcome:
    """Run handler of 顧客閲覧URL連携."""
    config = context.config
    kintone, haihai = make_clients(
        config, allow_local=context.allow_local_urls, redis_conn=context.redis
    )
    try:
        result = sync_view_urls(config, kintone=kintone, haihai=haihai, progress=context.progress)
    except (KintoneError, BudgetExceeded) as error:
        step = view_url_step(config.kintone.app_id)
        raise RunFailed(
            kintone_message(error, step),
            code=kintone_error_code(error, step),
            processed=getattr(error, "processed", None),
            total=getattr(error, "total", None),
        ) from error
    except HaihaiError as error:
        raise RunFailed(
            haihai_message(error),
            code=haihai_error_code(error),
            processed=getattr(error, "processed", None),
            total=getattr(error, "total", None),
        ) from error
    finally:
        kintone.close()
        haihai.close()
    # The worker's run.succeeded line is the INFO record of the run; this detail is DEBUG.
    log.debug(
        "view url sync done run_id=%s task_id=%s read=%s matched=%s updated=%s kintone_calls=%s haihai_calls=%s",
        context.run_id,
        context.run_id,
        result.read,
        result.matched,
        result.updated,
        result.kintone_calls,
        result.haihai_calls,
    )
    return RunOutcome(processed=result.processed, total=result.read)
