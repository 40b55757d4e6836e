"""Exclusion groups of the 配配メール-kintone processes (manual 付録6.3).

One run per group and connector at a time: 顧客情報連携 (any), 配信停止/禁止顧客一覧連携 and
顧客閲覧URL連携 share SYNC_GROUP; the reaction and Bridge imports each have their own.
"""

SYNC_GROUP = "sync"
REACTION_GROUP = "reaction"
BRIDGE_GROUP = "bridge"
