"""A throw-away connector type for tests: one settings Step and one process, all in this folder.

Loaded with PORTAL_EXTRA_CONNECTOR_TYPES=tests.support.echo_connector. Its settings live in memory
(keyed by connector id): the type exists to prove that a new type needs no edit elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from werkzeug.datastructures import MultiDict

from portal.connector_types.registry import ConnectorType, ProcessSpec
from portal.settings.sections import Section
from portal.syncs.context import RunContext, RunFailed, RunOutcome

KIND = "test_echo"
PROCESS_KEY = "test_echo:run"
SECTION_KEY = "echo"
TIMINGS = ("off", "manual")
MESSAGE_MAX = 50
STORED: dict[str, EchoSetting] = {}


@dataclass(frozen=True)
class EchoSetting:
    """The type's whole configuration: its 連携タイミング and the text its run answers with."""

    timing: str = "off"
    message: str = ""


class EchoSection(Section):
    """Step1. エコー設定."""

    key = SECTION_KEY
    order = 10
    title = "Step1. エコー設定"
    template = "echo/_section.html"

    def stored_values(self, ctx):
        setting = STORED.get(ctx.connector.id, EchoSetting())
        return {"timing": setting.timing, "message": setting.message}

    def posted_values(self, form, ctx):
        return {"timing": form.get("echo-timing", ""), "message": form.get("echo-message", "")}

    def parse(self, form, ctx):
        values = self.posted_values(form, ctx)
        errors = {}
        if values["timing"] not in TIMINGS:
            errors["echo-timing"] = "連携タイミングを選択してください。"
        if len(values["message"]) > MESSAGE_MAX:
            errors["echo-message"] = f"{MESSAGE_MAX}文字以内で入力してください。"
        return EchoSetting(values["timing"], values["message"]), errors

    def store(self, ctx, data):
        STORED[ctx.connector.id] = data

    def config_value(self, ctx):
        return STORED.get(ctx.connector.id, EchoSetting())

    def form_fields(self, ctx):
        setting = STORED.get(ctx.connector.id, EchoSetting())
        return MultiDict({"echo-timing": setting.timing, "echo-message": setting.message})


def load_config(session, connector, app_config) -> EchoSetting:
    """The stored setting of `connector` (連携しない when never saved)."""
    return STORED.get(connector.id, EchoSetting())


def run_echo(context: RunContext) -> RunOutcome:
    """Answer with the posted text as メッセージ詳細; 「fail」 ends in エラー."""
    text = str(context.params.get("text", ""))
    if text == "fail":
        raise RunFailed("エコー処理が指示どおり失敗しました。", code="echo")
    context.progress(1, 1)
    return RunOutcome(processed=1, total=1, message_detail=f"エコー: {text}")


CONNECTOR_TYPE = ConnectorType(
    kind=KIND,
    label="テスト用エコー連携",
    sections=(EchoSection(),),
    processes=(
        ProcessSpec(
            key=PROCESS_KEY,
            name="エコー処理",
            group="echo",
            handler=run_echo,
            section=SECTION_KEY,
            timing=lambda setting: setting.timing,
            params=("text",),
            run_options_template="echo/_run_options.html",
            config_type=EchoSetting,
        ),
    ),
    load_config=load_config,
    template_folder=Path(__file__).parent / "templates",
    order=100,
)
