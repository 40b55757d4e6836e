"""Japanese answers for HTTP errors: a page for a browser, a short text for htmx requests.

htmx does not swap 4xx/5xx answers (see base.html's responseHandling); portal.js shows the text
of a text/plain error answer in the page's error banner instead.
"""

from __future__ import annotations

from flask import Flask, Response, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.web.htmx import is_htmx

MESSAGES = {
    400: "送信された内容を受け付けられませんでした。画面を再読み込みしてから、もう一度操作してください。",
    404: "ページが見つかりません。URL をご確認ください。",
    405: "この方法ではこのページを利用できません。",
    413: "送信された内容が大きすぎます。入力内容を減らしてから、もう一度送信してください。",
    422: "入力内容を確認してください。",
    429: "操作が続いたため、しばらく受け付けを止めています。時間をおいてもう一度操作してください。",
    500: "サーバーでエラーが発生しました。時間をおいてから、もう一度操作してください。",
}
NUL_MESSAGE = (
    "使用できない制御文字（NUL）が含まれています。入力内容を確認して、もう一度送信してください。"
)
DEFAULT_MESSAGE = "エラーが発生しました。時間をおいてから、もう一度操作してください。"


def message_for(status: int) -> str:
    """The Japanese sentence shown for an HTTP error status."""
    return MESSAGES.get(status, DEFAULT_MESSAGE)


def error_response(status: int, message: str | None = None) -> Response:
    """The answer for `status`: the error page, or a plain text for htmx."""
    text = message or message_for(status)
    if is_htmx():
        return make_response((text, status, {"Content-Type": "text/plain; charset=utf-8"}))
    return make_response((render_template("error.html", message=text), status))


def http_error(error: HTTPException):
    """The Japanese answer for an HTTP error raised anywhere outside the inbound endpoints."""
    if error.code is None or error.code < 400:
        return error
    response = error_response(error.code)
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _input_problem(values) -> str | None:
    """Why a browser could not have sent `values` (a MultiDict), or None when it could."""
    for key in values:
        # A multipart part without a readable name arrives with the key None.
        if not isinstance(key, str):
            return MESSAGES[400]
        if "\x00" in key or any("\x00" in value for value in values.getlist(key)):
            return NUL_MESSAGE
    return None


def init_app(app: Flask) -> None:
    """Answer every HTTP error of `app` in Japanese; refuse NUL characters and nameless fields."""

    @app.before_request
    def _refuse_nul_characters():
        # No text of the portal may hold NUL; PostgreSQL refuses it in text columns (SQLite would
        # store it), so it is refused for every form and query at the door, on every database.
        # Inbound endpoints (JSON, their own error format) validate their own input.
        from portal.inbound.blueprint import is_inbound_path

        if is_inbound_path(request.path):
            return None
        problem = _input_problem(request.args)
        if problem is None and request.method != "GET":
            problem = _input_problem(request.form)
        return None if problem is None else error_response(400, problem)

    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(InternalServerError)
    def _server_error(error: InternalServerError):
        # Flask has logged the original exception already; never show its details.
        return error_response(500)
