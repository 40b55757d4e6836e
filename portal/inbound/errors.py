"""JSON errors of inbound endpoints: one shape, Japanese messages, the right status.

Every refusal answers `{"error": {"code": "...", "message": "..."}}` — `code` is stable for
programs, `message` is what the kintone plugin shows its user.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MSG_BAD_REQUEST = "リクエストの形式が正しくありません。"
MSG_NOT_FOUND = "指定されたURLは存在しません。プラグインの設定でポータルのURLを確認してください。"
MSG_METHOD = "このURLでは指定された方法のリクエストを受け付けていません。"
MSG_TOO_LARGE = "リクエストが大きすぎます。"
MSG_MEDIA_TYPE = "リクエストはJSON（Content-Type: application/json）で送信してください。"
MSG_RATE_LIMITED = (
    "短時間に多くのリクエストを受け付けたため、処理を制限しています。"
    "しばらく待ってから再度お試しください。"
)
MSG_UNAVAILABLE = (
    "一時的にリクエストを処理できません。時間を置いて再度お試しください。"
    "再度お試しいただいても失敗する場合は、サポートにご連絡ください。"
)
MSG_INTERNAL = "予期しないエラーが発生しました。再度お試しいただいても失敗する場合は、サポートにご連絡ください。"

_BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("bad_request", MSG_BAD_REQUEST),
    404: ("not_found", MSG_NOT_FOUND),
    405: ("method_not_allowed", MSG_METHOD),
    413: ("too_large", MSG_TOO_LARGE),
    415: ("unsupported_media_type", MSG_MEDIA_TYPE),
    429: ("rate_limited", MSG_RATE_LIMITED),
    503: ("unavailable", MSG_UNAVAILABLE),
}


class InboundError(Exception):
    """A refused inbound request: HTTP `status`, machine `code`, Japanese `message`."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The JSON error response of an inbound endpoint."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def http_error_response(error: HTTPException) -> Response:
    """An HTTP error (404, 405, 429 …) as the JSON error of inbound endpoints."""
    status = error.code or 500
    code, message = _BY_STATUS.get(status, ("error", MSG_INTERNAL))
    response = json_error(status, code, message)
    # Keep what werkzeug or Flask-Limiter put on the error (Allow, Retry-After …).
    original = error.get_response()
    for name in ("Allow", "Retry-After"):
        if name in original.headers:
            response.headers[name] = original.headers[name]
    return response


def register_error_handlers(blueprint: Blueprint) -> None:
    """Answer every error raised while serving `blueprint` as a JSON error."""

    @blueprint.errorhandler(InboundError)
    def _inbound_error(error: InboundError) -> Response:
        return json_error(error.status, error.code, error.message, error.headers)

    blueprint.register_error_handler(HTTPException, http_error_response)

    @blueprint.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if _is_redis_error(error):
            log.warning("inbound request refused: Redis unavailable (%s)", error)
            return json_error(503, "unavailable", MSG_UNAVAILABLE)
        log.exception("inbound request failed")
        return json_error(500, "internal_error", MSG_INTERNAL)


def _is_redis_error(error: Exception) -> bool:
    import redis

    return isinstance(error, redis.RedisError | ConnectionError)
