"""HTTP security headers of every portal response (Flask-Talisman plus the caching rule).

The policy allows only the portal's own files: htmx and Bootstrap from /vendor, portal.js and
portal.css from /static. Templates therefore carry no inline <script>, no <style> and no style=""
attribute, and htmx triggers use no filter expressions (those need eval).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_talisman import DENY, Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # Bootstrap's CSS draws checkboxes, selects and close buttons with data: SVG images.
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
REFERRER_POLICY = "same-origin"
HSTS_MAX_AGE = 365 * 24 * 3600
# Files that may be cached: they hold nothing of a signed-in account.
CACHEABLE_BLUEPRINTS = {"assets"}

_talisman = Talisman()


def init_app(app: Flask) -> None:
    """Send the security headers on every response of `app`."""
    _talisman.init_app(
        app,
        # TLS ends at the reverse proxy; redirecting here would loop behind one that speaks http.
        force_https=False,
        # The portal's own configuration decides the cookie flags (the demo runs on http).
        session_cookie_secure=False,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
        frame_options=DENY,
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy=REFERRER_POLICY,
        # Sent only on https requests (directly or through PROXY_FIX_HOPS' X-Forwarded-Proto).
        strict_transport_security=True,
        strict_transport_security_max_age=HSTS_MAX_AGE,
        strict_transport_security_include_subdomains=False,
        x_content_type_options=True,
    )

    @app.after_request
    def _no_store(response: Response) -> Response:
        # Pages and fragments may show an account's data; nothing but static files is stored
        # by the browser or a proxy (the back button after LOGOUT must not show a page).
        if request.blueprint not in CACHEABLE_BLUEPRINTS:
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response
