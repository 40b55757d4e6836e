"""Serves the portal's own static files and the npm-installed front-end libraries."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__)

STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static"

# Only the distributable files of the packages in package.json are reachable.
VENDOR_FOLDERS = {
    "bootstrap": "bootstrap/dist",
    "htmx": "htmx.org/dist",
}


@bp.get("/static/<path:filename>")
def static(filename: str):
    """The portal's own CSS and JavaScript."""
    return send_from_directory(STATIC_FOLDER, filename, max_age=3600)


@bp.get("/favicon.ico")
def favicon():
    """The portal's icon for browsers that ask for /favicon.ico whatever the page says."""
    return send_from_directory(
        STATIC_FOLDER, "favicon.svg", mimetype="image/svg+xml", max_age=86400
    )


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """A file from an npm package's dist folder (installed by `make`, never committed)."""
    folder = VENDOR_FOLDERS.get(package)
    if folder is None:
        abort(404)
    root = Path(current_app.config["ASSETS_FOLDER"]) / folder
    return send_from_directory(root, filename, max_age=86400)
