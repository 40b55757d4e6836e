"""配信停止 for customers missing from the kintone result, decided once for the whole result
(the manual's 付録1.4 flaw, fixed: see the module docstring of customer.sync)."""

from __future__ import annotations

import bisect
import hashlib
import logging
import tempfile
from array import array
from collections.abc import Callable

from portal.connector_types.haihai_kintone.customer.import_plan import ImportPlan
from portal.connector_types.haihai_kintone.customer.part_sender import HaihaiImports, PartSender
from portal.connector_types.haihai_kintone.customer.values import email_key
from portal.integrations.haihai import DeliveryState, HaihaiError, ImportMode, ImportOptions
from portal.integrations.haihai_csv import (
    CsvEncodeError,
    CsvEncoding,
    CsvPartWriter,
    CsvRowTooLargeError,
)

# A run's log lines all carry the service's logger name.
log = logging.getLogger("portal.connector_types.haihai_kintone.customer.sync")


def address_hash(email: str) -> int:
    """64-bit hash of an address's comparison key (collisions: ~1e-8 at ten million rows)."""
    digest = hashlib.blake2b(email_key(email).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stop_missing_customers(
    haihai: HaihaiImports,
    plan: ImportPlan,
    keys: array,
    sender: PartSender,
    email_header: str,
    encoding: CsvEncoding,
    max_part_bytes: int,
    failure: Callable[..., Exception],
) -> int:
    """配信停止 for the deliverable customers of the target(s) missing from the kintone result."""
    ordered = array("Q", sorted(keys))
    del keys[:]  # the unsorted copy is not needed any more

    def in_kintone(email: str) -> bool:
        value = address_hash(email)
        index = bisect.bisect_left(ordered, value)
        return index < len(ordered) and ordered[index] == value

    if plan.target_kind is not None:
        targets = [(plan.target_kind, plan.target_id)]
    else:
        try:
            targets = [("group", g.group_id) for g in haihai.list_groups()]
            targets += [("plan", p.plan_id) for p in haihai.list_step_plans()]
        except HaihaiError as error:
            raise failure(error, sender.parts_sent) from error

    stop_sender = PartSender(
        haihai,
        first_poll=sender.first_poll,
        import_wait=sender.import_wait,
        journal=sender.journal,
        first_number=sender.parts_sent + 1,
    )
    stopped = 0
    for kind, target_id in targets:
        filters = {"group_id": target_id} if kind == "group" else {"plan_id": target_id}
        # List the whole target first (spooled to disk past 4 MB): sending stops while paging
        # would shift the offsets of the list being read.
        with tempfile.SpooledTemporaryFile(
            max_size=4 * 1024 * 1024, mode="w+", encoding="utf-8"
        ) as spool:
            count = 0
            try:
                for entry in haihai.iter_delivery_states(DeliveryState.OK, **filters):
                    if not in_kintone(entry.email):
                        spool.write(entry.email.replace("\n", " ") + "\n")
                        count += 1
            except HaihaiError as error:
                raise failure(error, sender.parts_sent) from error
            if not count:
                continue
            spool.seek(0)
            options = ImportOptions(
                mode=ImportMode.STOP,
                group_id=target_id if kind == "group" else None,
                plan_id=target_id if kind == "plan" else None,
                report=plan.options.report,
                encoding=encoding,
            )
            writer = CsvPartWriter([email_header], encoding, max_part_bytes)
            for line in spool:
                try:
                    part = writer.add_row([line.rstrip("\n")])
                except (CsvEncodeError, CsvRowTooLargeError):
                    continue  # an address 配配メール itself holds is always encodable in practice
                if part is not None:
                    stop_sender.send(part, options, failure)
            last = writer.finish()
            if last is not None:
                stop_sender.send(last, options, failure)
        log.info("customer_sync stop target=%s:%s candidates=%d", kind, target_id, count)
    for _, result in stop_sender.wait_all(failure):
        stopped += result.state_changed
    sender.job_ids.extend(stop_sender.job_ids)
    return stopped
