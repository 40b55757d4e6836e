"""The only module that touches the HTMX helper package; views use these functions."""

from __future__ import annotations

from flask import Flask, Response, request
from htmx_flask import Htmx
from htmx_flask import make_response as _htmx_make_response

_htmx = Htmx()

# htmx stops a polling element when it receives this status.
STOP_POLLING = 286


def init_app(app: Flask) -> None:
    """Install the HTMX-aware request class on `app`."""
    _htmx.init_app(app)

    @app.after_request
    def _vary_on_htmx(response: Response) -> Response:
        # A URL that serves both a page and a fragment must not be cached as one of them.
        if "HX-Request" in request.headers or response.headers.get("X-Serves-Fragment"):
            response.headers.add("Vary", "HX-Request")
            response.headers.pop("X-Serves-Fragment", None)
        return response


def is_htmx() -> bool:
    """True when the current request was made by htmx."""
    return bool(getattr(request, "htmx", None)) or request.headers.get("HX-Request") == "true"


def hx_response(
    body: str | Response = "",
    status: int = 200,
    *,
    redirect: str | None = None,
    location: str | dict | None = None,
    trigger: str | dict | None = None,
    retarget: str | None = None,
    reswap: str | None = None,
    refresh: bool = False,
) -> Response:
    """A response carrying the htmx headers named by the keyword arguments."""
    # The helper package rejects these two values; the header is then set directly instead.
    reswap_by_hand = reswap in {"beforebegin", "afterbegin"}
    response = _htmx_make_response(
        body,
        status,
        redirect=redirect,
        location=location,
        trigger=trigger,
        retarget=retarget,
        reswap=None if reswap_by_hand else reswap,
        refresh=refresh,
    )
    if reswap_by_hand:
        response.headers["HX-Reswap"] = reswap
    return response


def full_page_redirect(url: str) -> Response:
    """Send the browser to `url` as a whole page, for htmx and plain requests alike."""
    if is_htmx():
        return hx_response("", 200, redirect=url)
    from flask import redirect

    return redirect(url)
