"""Runs: the 実行 page, the 連携ログ, run creation, schedules and the process registry."""
