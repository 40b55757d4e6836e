"""Apps and their settings: app information, form fields and layout, pre-live changes and
deployment, and a probe of what an API token may do."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from portal.integrations.kintone.errors import (
    KintoneAppAccessError,
    KintoneConflictError,
    KintoneDeployError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneValidationError,
)
from portal.integrations.kintone.transport import KintoneTransport, Safety

# kintone ids are positive and grow by one per record; no app reaches this one, so a write aimed
# at it can only fail (not found when permitted, permission error otherwise).
_IMPOSSIBLE_RECORD_ID = 2_147_483_647


class AppSettings(KintoneTransport):
    """App and form-settings operations of `KintoneClient`."""

    def get_app(self, app: int) -> dict[str, Any]:
        """App information (GET app.json): appId, code, name, spaceId, creator …"""
        return self.request("GET", "app", {"id": app}, app=app)

    def get_form_fields(
        self,
        app: int,
        preview: bool = False,
        *,
        lang: str | None = None,
        explain_refusal: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Field properties keyed by field code (live settings unless `preview`).

        With `explain_refusal`, a refusal (GAIA_NO01) is probed: KintoneAppAccessError when the
        credentials may do nothing at all on `app` (another app's token, or no such app).
        """
        params: dict[str, Any] = {"app": app}
        if lang:
            params["lang"] = lang
        try:
            body = self.request("GET", "app/form/fields", params, app=app, preview=preview)
        except KintonePermissionError:
            if explain_refusal:
                self.probe_permissions(app)
            raise
        return body["properties"]

    def get_form_layout(self, app: int, preview: bool = False) -> list[dict[str, Any]]:
        """Form layout rows (GET app/form/layout.json)."""
        body = self.request("GET", "app/form/layout", {"app": app}, app=app, preview=preview)
        return body["layout"]

    def probe_permissions(self, app: int) -> set[str]:
        """Which of view/add/edit/delete/manage the credentials allow on `app`; changes no data.

        view: a one-record read. add: an add of zero records. edit/delete: an update / delete of
        a record id that cannot exist (not found ⇒ allowed). manage: reading preview settings.
        Raises KintoneAuthError for bad credentials, KintoneNotFoundError for a missing app
        (password users) and KintoneAppAccessError when every probe was refused: an API token
        allows at least one of these on its own app, so it belongs to another app or none
        has this ID.
        """
        found: set[str] = set()
        refused: KintonePermissionError | None = None
        probes: list[tuple[str, Callable[[], Any]]] = [
            (
                "view",
                lambda: self.request(
                    "GET", "records", {"app": app, "query": "limit 1", "fields": ["$id"]}, app=app
                ),
            ),
            (
                "add",
                lambda: self.request("POST", "records", {"app": app, "records": []}, app=app),
            ),
            (
                "edit",
                lambda: self.request(
                    "PUT",
                    "records",
                    {"app": app, "records": [{"id": _IMPOSSIBLE_RECORD_ID, "record": {}}]},
                    app=app,
                ),
            ),
            (
                "delete",
                lambda: self.request(
                    "DELETE", "records", {"app": app, "ids": [_IMPOSSIBLE_RECORD_ID]}, app=app
                ),
            ),
            (
                "manage",
                lambda: self.request("GET", "app/form/fields", {"app": app}, app=app, preview=True),
            ),
        ]
        for name, probe in probes:
            try:
                probe()
            except KintonePermissionError as error:
                refused = error
                continue
            except (KintoneNotFoundError, KintoneValidationError, KintoneConflictError) as error:
                if error.code == "GAIA_AP01":
                    raise
                # Reached the record/validation stage: the permission check passed.
            found.add(name)
        if not found and refused is not None:
            raise KintoneAppAccessError(
                refused.code, refused.message, request_id=refused.request_id, status=refused.status
            )
        return found

    def create_app(self, name: str, *, space: int | None = None, thread: int | None = None) -> int:
        """Create a pre-live app (POST preview/app.json; password auth) → app id."""
        params: dict[str, Any] = {"name": name}
        if space is not None:
            params["space"] = space
            params["thread"] = thread
        body = self.request("POST", "app", params, preview=True)
        return int(body["app"])

    def add_form_fields(
        self, app: int, properties: Mapping[str, Any], *, revision: int | None = None
    ) -> int:
        """Add fields to the pre-live form → new settings revision."""
        params: dict[str, Any] = {"app": app, "properties": dict(properties)}
        return self._change_form("POST", "app/form/fields", app, params, revision)

    def update_form_fields(
        self, app: int, properties: Mapping[str, Any], *, revision: int | None = None
    ) -> int:
        """Change pre-live field settings (key = current code) → new settings revision."""
        params: dict[str, Any] = {"app": app, "properties": dict(properties)}
        return self._change_form(
            "PUT", "app/form/fields", app, params, revision, safety=Safety.REPEATABLE
        )

    def delete_form_fields(
        self, app: int, codes: Sequence[str], *, revision: int | None = None
    ) -> int:
        """Delete pre-live fields by code → new settings revision."""
        params: dict[str, Any] = {"app": app, "fields": list(codes)}
        return self._change_form("DELETE", "app/form/fields", app, params, revision)

    def update_form_layout(
        self, app: int, layout: Sequence[Mapping[str, Any]], *, revision: int | None = None
    ) -> int:
        """Replace the pre-live form layout → new settings revision."""
        params: dict[str, Any] = {"app": app, "layout": list(layout)}
        return self._change_form(
            "PUT", "app/form/layout", app, params, revision, safety=Safety.REPEATABLE
        )

    def _change_form(
        self,
        method: str,
        endpoint: str,
        app: int,
        params: dict[str, Any],
        revision: int | None,
        *,
        safety: Safety | None = None,
    ) -> int:
        """Send one pre-live form change (revision-checked when given) → new settings revision."""
        if revision is not None:
            params["revision"] = revision
        body = self.request(method, endpoint, params, app=app, preview=True, safety=safety)
        return int(body["revision"])

    def get_deploy_status(self, apps: Sequence[int]) -> dict[int, str]:
        """Deploy status per app: PROCESSING, SUCCESS, FAIL or CANCEL."""
        body = self.request(
            "GET", "app/deploy", {"apps": list(apps)}, app=apps[0] if apps else None, preview=True
        )
        return {int(item["app"]): str(item["status"]) for item in body["apps"]}

    def deploy_app_settings(
        self,
        apps: Sequence[int],
        *,
        revert: bool = False,
        wait: bool = True,
        timeout: float = 120.0,
        poll_interval: float = 1.0,
    ) -> dict[int, str]:
        """Deploy pre-live settings and, with `wait`, poll until done; raise KintoneDeployError."""
        params: dict[str, Any] = {"apps": [{"app": a} for a in apps]}
        if revert:
            params["revert"] = True
        self.request("POST", "app/deploy", params, app=apps[0] if apps else None, preview=True)
        if not wait:
            return {int(a): "PROCESSING" for a in apps}
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.get_deploy_status(apps)
            if all(s != "PROCESSING" for s in statuses.values()):
                bad = {a: s for a, s in statuses.items() if s != "SUCCESS"}
                if bad:
                    raise KintoneDeployError(
                        "DEPLOY_FAILED", f"deploying app settings ended with {bad}"
                    )
                return statuses
            if time.monotonic() >= deadline:
                raise KintoneDeployError(
                    "DEPLOY_TIMEOUT", f"app settings were still deploying after {timeout:g}s"
                )
            self._sleep(poll_interval)
