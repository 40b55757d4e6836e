"""The results of a 顧客情報連携's CSV imports added up, for 処理件数 and メッセージ詳細.

処理件数 counts the rows 配配メール took: registered, updated, changed in state, or skipped as
already holding what was sent (a state change to the state a customer has). Rows it refused are
not counted, nor rows it skipped in a 登録 without 「データの上書き」: there a skipped row is an
existing customer whose data 配配メール kept, so kintone's values were not taken. メッセージ詳細
gives every number and the reasons 配配メール gave for skipping (the job IDs are given by the
caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.integrations.haihai import ImportMode, ImportOptions, ImportResult

# Where the manual sends the user to see a job's result in 配配メール itself.
HAIHAI_REPORT = "配配メールの[レポート] > [レポートメニュー] > [一括登録・削除の処理結果]"


@dataclass
class ImportTally:
    """Counts of every finished import of one run (the stop-missing imports are not included).

    `skips_keep_data`: the imports are 登録 without 上書き, so a skipped row was not taken.
    """

    skips_keep_data: bool = False
    total: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    state_changed: int = 0
    skipped: int = 0
    failed: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_options(cls, options: ImportOptions) -> ImportTally:
        """A tally for imports sent with `options`."""
        return cls(skips_keep_data=options.mode is ImportMode.REGISTER and not options.overwrite)

    def add(self, result: ImportResult) -> int:
        """Add one job's result → the rows of it that count as processed."""
        self.total += result.total
        self.inserted += result.inserted
        self.updated += result.updated
        self.deleted += result.deleted
        self.state_changed += result.state_changed
        self.skipped += result.skipped
        self.failed += result.failed
        for reason, count in result.skip_reasons:
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + count
        return result.applied if self.skips_keep_data else result.accepted

    def lines(self) -> list[str]:
        """The メッセージ詳細 lines: 配配メール's numbers, then why rows were skipped."""
        if not self.total:
            return []
        parts = [f"登録 {self.inserted:,}件", f"更新 {self.updated:,}件"]
        if self.deleted:
            parts.append(f"削除 {self.deleted:,}件")
        if self.state_changed:
            parts.append(f"状態変更 {self.state_changed:,}件")
        parts += [f"スキップ {self.skipped:,}件", f"エラー {self.failed:,}件"]
        lines = [f"配配メールの処理結果: {'、'.join(parts)}（送信 {self.total:,}件）"]
        if self.skipped:
            given = sum(self.skip_reasons.values())
            lines.extend(
                f"スキップの理由: {reason}（{count:,}件）"
                for reason, count in self.skip_reasons.items()
            )
            if given < self.skipped:
                lines.append(
                    f"スキップの理由（{self.skipped - given:,}件）は配配メールから返されていません。"
                    f"{HAIHAI_REPORT}で確認できます。"
                )
        return lines
