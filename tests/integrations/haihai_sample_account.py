"""Delivery groups and step plans shared by the 配配メール sandbox and client test accounts."""

from __future__ import annotations


def sample_groups() -> list[dict]:
    """Two delivery groups with their sender addresses (gid 1 and 2)."""
    return [
        {"gid": "1", "name": "メルマガ", "from_address": "news@example.jp"},
        {"gid": "2", "name": "セミナー案内", "from_address": "seminar@example.jp"},
    ]


def sample_plans() -> list[dict]:
    """Two step-mail plans: spid 10 starts on registration, spid 11 on a start date."""
    return [
        {"spid": "10", "name": "オンボーディング"},
        {"spid": "11", "name": "開始日指定", "start_mode": "start_date"},
    ]
