"""The 配信停止 and 配信禁止 lists of 配配メール, held as sorted 64-bit address hashes.

The lists cover every delivery group and step-mail plan of the account (a customer stopped in
any of them is 配信停止). Each needed list is read page by page (10,000 entries per call, one
call of the 240/day `GetDeliveryStateList` budget each) by its own client in its own thread, so
both lists arrive in the time of the longer one. Memory: 8 bytes per entry.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from portal.integrations.haihai import DeliveryState, HaihaiClient
from portal.syncs.email_match import email_hash


class EmailHashSet:
    """A set of mail addresses by their 64-bit hash (`email_match.email_hash`)."""

    def __init__(self, hashes: Iterable[int] = ()):
        ordered = sorted(hashes)
        unique = array("Q")
        previous = None
        for value in ordered:
            if value != previous:
                unique.append(value)
                previous = value
        self._hashes = unique

    @classmethod
    def from_addresses(cls, addresses: Iterable[object]) -> EmailHashSet:
        """The set of every valid address in `addresses`."""
        return cls(h for h in map(email_hash, addresses) if h is not None)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int):
            return False
        index = bisect_left(self._hashes, key)
        return index < len(self._hashes) and self._hashes[index] == key

    def __len__(self) -> int:
        return len(self._hashes)


EMPTY = EmailHashSet()


@dataclass(frozen=True)
class DeliveryLists:
    """The lists a run needs (an empty set for a list its 連携種別 does not use)."""

    stopped: EmailHashSet
    banned: EmailHashSet
    calls: int


def _read(client: HaihaiClient, state: DeliveryState) -> EmailHashSet:
    hashes = array("Q")
    for entry in client.iter_delivery_states(state):
        key = email_hash(entry.email)
        if key is not None:
            hashes.append(key)
    return EmailHashSet(hashes)


def load_lists(
    open_client: Callable[[], HaihaiClient], states: Sequence[DeliveryState]
) -> DeliveryLists:
    """Read the lists named in `states` concurrently; the first failure is raised."""
    results: dict[DeliveryState, EmailHashSet] = {}
    errors: list[BaseException] = []
    calls = [0]
    lock = threading.Lock()

    def read(state: DeliveryState) -> None:
        client = open_client()
        try:
            found = _read(client, state)
            with lock:
                results[state] = found
        except BaseException as error:  # noqa: BLE001 - re-raised by the caller's thread
            with lock:
                errors.append(error)
        finally:
            with lock:
                calls[0] += client.transport.calls
            client.close()

    threads = [
        threading.Thread(target=read, args=(state,), name=f"haihai-{state.value}", daemon=True)
        for state in states[1:]
    ]
    for thread in threads:
        thread.start()
    if states:
        read(states[0])
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return DeliveryLists(
        stopped=results.get(DeliveryState.STOP, EMPTY),
        banned=results.get(DeliveryState.BAN, EMPTY),
        calls=calls[0],
    )
