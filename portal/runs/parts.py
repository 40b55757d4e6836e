"""The journal of CSV parts runs send to 配配メール (`run_parts`), and what it tells afterwards.

A part is recorded as 送信中 (`sending`) before its upload starts and with 配配メール's job ID
(`sent`) once the upload is answered. So whoever finds a run dead can say whether 配配メール
already has its data, and the next run of the same process can skip a part that an interrupted
run already sent with identical content (same rows, same options).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from flask import Flask
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from portal.db import session_scope
from portal.models import Run, RunPart
from portal.models.common import utcnow
from portal.models.runs import FAILED, PART_SENDING, PART_SENT, SUCCEEDED

# An interrupted run's parts are reused by re-runs within this time; a later run sends again
# (配配メール's data may have been edited by hand since).
REUSE_WINDOW = dt.timedelta(hours=24)
REPORT_HINT = (
    "配配メールの[レポート] > [レポートメニュー] > [一括登録・削除の処理結果]で"
    "取り込み結果を確認してください。"
)


class DatabasePartJournal:
    """The PartJournal of run `run_id`, writing `run_parts` rows in their own transactions."""

    def __init__(self, app: Flask, run_id: str) -> None:
        self.app = app
        self.run_id = run_id
        self._previous: str | None = None
        self._previous_known = False

    def reusable_job(self, fingerprint: str) -> str | None:
        """The job ID of an identical part the interrupted previous run of the process sent."""
        with self.app.app_context(), session_scope() as session:
            previous = self._interrupted_previous_run(session)
            if previous is None:
                return None
            return session.exec(
                select(RunPart.job_id)
                .where(
                    RunPart.run_id == previous,
                    RunPart.fingerprint == fingerprint,
                    RunPart.state == PART_SENT,
                    col(RunPart.job_id).is_not(None),
                )
                .order_by(col(RunPart.number))
            ).first()

    def sending(self, number: int, fingerprint: str, rows: int, size: int) -> None:
        """Record part `number` as 送信中 (committed before the upload starts)."""
        with self.app.app_context(), session_scope() as session:
            session.add(
                RunPart(
                    run_id=self.run_id,
                    number=number,
                    fingerprint=fingerprint,
                    rows=rows,
                    size=size,
                    state=PART_SENDING,
                )
            )

    def sent(self, number: int, job_id: str, *, reused: bool = False) -> None:
        """Record 配配メール's job ID of part `number` (committed at once)."""
        with self.app.app_context(), session_scope() as session:
            session.execute(
                update(RunPart)
                .where(col(RunPart.run_id) == self.run_id, col(RunPart.number) == number)
                .values(state=PART_SENT, job_id=job_id, reused=reused, sent_at=utcnow())
            )

    def _interrupted_previous_run(self, session: Session) -> str | None:
        if self._previous_known:
            return self._previous
        from portal.runs.service import NOT_COUNTED_CODES

        run = session.get(Run, self.run_id)
        previous = session.exec(
            select(Run)
            .where(
                Run.connector_id == run.connector_id,
                Run.process_key == run.process_key,
                Run.id != run.id,
                col(Run.created_at) <= run.created_at,
                col(Run.status).in_((FAILED, SUCCEEDED)),
                or_(col(Run.error_code).is_(None), col(Run.error_code).not_in(NOT_COUNTED_CODES)),
            )
            .order_by(col(Run.created_at).desc(), col(Run.id).desc())
        ).first()
        recent = utcnow() - REUSE_WINDOW
        if (
            previous is not None
            and previous.status == FAILED
            and (previous.finished_at or previous.created_at) >= recent
        ):
            self._previous = previous.id
        self._previous_known = True
        return self._previous


def parts_of(session: Session, run_id: str) -> list[RunPart]:
    """The parts run `run_id` recorded, in order."""
    return list(
        session.exec(
            select(RunPart).where(RunPart.run_id == run_id).order_by(col(RunPart.number))
        ).all()
    )


def describe_parts(parts: Sequence[RunPart], results: Mapping[str, str]) -> str | None:
    """Japanese sentences on what 配配メール received from a run that was cut short, or None.

    `results` maps job IDs to a sentence on the job's result, for the jobs it could be read of.
    """
    jobs = [part.job_id for part in parts if part.state == PART_SENT and part.job_id]
    uncertain = [part.number for part in parts if part.state == PART_SENDING]
    if not jobs and not uncertain:
        return None
    lines = []
    if jobs:
        lines.append(f"配配メールへの送信は完了しています（ジョブID {', '.join(jobs)}）。")
        lines.extend(f"ジョブID {job}: {results[job]}" for job in jobs if job in results)
        lines.append("再実行しても、送信済みの同じ内容のCSVファイルは再送信されません。")
    if uncertain:
        numbers = "・".join(f"{n}番目" for n in uncertain)
        lines.append(
            f"{numbers}のCSVファイルは送信中に中断されたため、配配メールに届いたかどうか確認できません。"
        )
    lines.append(REPORT_HINT)
    return "\n".join(lines)
