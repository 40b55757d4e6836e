"""Sandbox-only JSON admin API under `/_sandbox/` (not part of 配配メール)."""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from .clock import ClockFormatError, format_jst, jst_date, parse_jst
from .errors import AdminError
from .model import (
    EVENT_TYPES,
    MAIL_TYPES,
    PLANS,
    STATE_BY_LABEL,
    STATE_REASONS,
    STATES,
    Answer,
    Event,
    Form,
    Group,
    Item,
    Mail,
    StepPlan,
    User,
)
from .serialize import (
    customer_json,
    form_json,
    group_json,
    item_json,
    mail_json,
    plan_json,
)
from .store import DEFAULT_EMAIL_LABEL, Account, Store
from .values import (
    CHOICE_TYPES,
    FORBIDDEN_OPTION_CHARS,
    INPUT_RULES,
    ITEM_TYPES,
    ValueInvalid,
    convert_json_value,
    email_key,
    normalize_date,
)
from .worker import JobWorker

ACCOUNT_SETTINGS = (
    "aid",
    "host",
    "plan",
    "api_option",
    "dedicated_server",
    "sync_states_across_groups",
    "ip_allowlist",
    "max_items",
    "max_groups",
    "strict_csv",
    "daily_limit",
    "view_url_base",
)
KINDS = ("items", "groups", "plans", "forms", "users", "mails")
RESERVED_LABELS = frozenset({"ステップ開始日"})


def _json(body, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, content_type="application/json; charset=utf-8")


def _form_targets(raw: list | None, known: dict, what: str) -> list[str]:
    """The ids of a form's targets as strings; AdminError naming those not in `known`."""
    ids = [str(i) for i in raw or []]
    missing = [i for i in ids if i not in known]
    if missing:
        raise AdminError(f"form targets unknown {what}: {', '.join(missing)}")
    return ids


def _need(spec: dict, name: str, where: str):
    value = spec.get(name)
    if value is None or value == "":
        raise AdminError(f"{where}: {name} is required")
    return value


def _time_field(spec: dict, name: str, default: int, where: str) -> int:
    raw = spec.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, int | float):
        return int(raw)
    try:
        return parse_jst(str(raw))
    except ClockFormatError as error:
        raise AdminError(f"{where}: {name} must be 'YYYY-MM-DD HH:MM:SS' (JST)") from error


def _bool(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1"):
        return str(value) == "1"
    raise AdminError(f"{where} must be a boolean")


def _opt_str(value) -> str | None:
    return None if value is None or value == "" else str(value)


class AdminHandler:
    """Implements every `/_sandbox/…` endpoint against the shared store."""

    def __init__(self, store: Store, worker: JobWorker, initial_data: dict | None = None):
        self.store = store
        self.worker = worker
        self.initial_data = initial_data

    # ----- routing -----------------------------------------------------------------------

    def handle(self, request: Request, path: str) -> Response:
        """Answer one admin request; `path` is what follows `/_sandbox/`."""
        parts = [part for part in path.split("/") if part]
        method = request.method
        try:
            with self.store.lock:
                return self._route(request, method, parts)
        except AdminError as error:
            return _json({"error": error.message}, error.http_status)

    def _route(self, request: Request, method: str, parts: list[str]) -> Response:
        head = parts[0] if parts else ""
        rest = parts[1:]
        routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("POST", "reset"): self.reset,
            ("GET", "config"): self.get_config,
            ("POST", "config"): self.set_config,
            ("POST", "customers"): self.post_customers,
            ("GET", "customers"): self.get_customers,
            ("POST", "events"): self.post_events,
            ("POST", "answers"): self.post_answers,
            ("POST", "mails"): self.post_mails,
            ("GET", "outbox"): self.get_outbox,
            ("DELETE", "outbox"): self.clear_outbox,
            ("GET", "stats"): self.get_stats,
            ("GET", "jobs"): self.get_jobs,
        }
        if head == "accounts":
            return self._route_accounts(request, method, rest)
        if head == "jobs" and rest == ["run"] and method == "POST":
            return self.run_jobs(request)
        handler = routes.get((method, head)) if not rest else None
        if handler is None:
            raise AdminError(f"no admin endpoint {method} /_sandbox/{'/'.join(parts)}", 404)
        return handler(request)

    def _route_accounts(self, request: Request, method: str, rest: list[str]) -> Response:
        if not rest:
            if method == "POST":
                return self.post_accounts(request)
            if method == "GET":
                return _json(
                    {
                        "accounts": [
                            self._definition(a, request) for a in self.store.accounts.values()
                        ]
                    }
                )
        elif len(rest) == 1:
            account = self._account(rest[0])
            if method == "GET":
                return _json(self._definition(account, request))
            if method in ("PATCH", "PUT"):
                self._apply_settings(account, self._body(request), f"accounts/{rest[0]}")
                account.touch()
                return _json(self._definition(account, request))
            if method == "DELETE":
                del self.store.accounts[account.account_key]
                return _json({"ok": True, "deleted": account.account_key})
        elif rest[1] in KINDS:
            account = self._account(rest[0])
            kind = rest[1]
            if len(rest) == 2 and method == "POST":
                body = self._body(request)
                specs = body if isinstance(body, list) else body.get(kind, [body])
                created = [self._add(account, kind, spec, request) for spec in specs]
                account.touch()
                return _json({"ok": True, kind: created}, 201)
            if len(rest) == 3 and method in ("PATCH", "PUT"):
                result = self._patch(account, kind, rest[2], self._body(request), request)
                account.touch()
                return _json({"ok": True, "updated": result})
            if len(rest) == 3 and method == "DELETE":
                self._delete(account, kind, rest[2])
                account.touch()
                return _json({"ok": True, "deleted": rest[2]})
        raise AdminError(f"no admin endpoint {method} /_sandbox/accounts/{'/'.join(rest)}", 404)

    def _body(self, request: Request):
        raw = request.get_data(cache=False)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise AdminError(f"body is not JSON: {error}") from error

    def _account(self, key: str | None) -> Account:
        if not key:
            raise AdminError("account is required")
        account = self.store.account(key)
        if account is None:
            raise AdminError(f"unknown account {key}", 404)
        return account

    # ----- reset, config, data file ------------------------------------------------------

    def reset(self, request: Request) -> Response:
        """Empty the sandbox (or reload the data file given at start unless `empty`)."""
        body = self._body(request)
        self.store.reset()
        self.worker.clear()
        if self.initial_data and not body.get("empty"):
            self.load_data(self.initial_data)
        return _json({"ok": True, "accounts": sorted(self.store.accounts)})

    def get_config(self, request: Request) -> Response:
        """Current knobs and clock."""
        return _json(self._config_json())

    def _config_json(self) -> dict:
        return {**self.store.config.to_json(), "clock": self.store.clock.describe()}

    def set_config(self, request: Request) -> Response:
        """Change knobs; `now`/`clock_running`/`advance_seconds` drive the clock."""
        self.apply_config(self._body(request))
        return _json(self._config_json())

    def apply_config(self, body: dict) -> None:
        """Apply a config object (also used by the data file)."""
        config = self.store.config
        known = set(config.to_json()) | {"now", "clock_running", "advance_seconds"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise AdminError(f"unknown config keys: {', '.join(unknown)}")
        for name in ("latency_ms", "event_lag_seconds", "daily_limit", "dedicated_daily_limit"):
            if name in body:
                value = body[name]
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise AdminError(f"{name} must be a non-negative integer")
                setattr(config, name, value)
        if "import_chunk_rows" in body:
            value = body["import_chunk_rows"]
            if not isinstance(value, int) or value < 1:
                raise AdminError("import_chunk_rows must be a positive integer")
            config.import_chunk_rows = value
        if "import_delay_seconds" in body:
            value = body["import_delay_seconds"]
            if not isinstance(value, int | float) or value < 0:
                raise AdminError("import_delay_seconds must be a non-negative number")
            config.import_delay_seconds = float(value)
        if "daily_limits" in body:
            limits = body["daily_limits"] or {}
            if not isinstance(limits, dict) or not all(
                isinstance(v, int) and v >= 0 for v in limits.values()
            ):
                raise AdminError("daily_limits must map bucket names to non-negative integers")
            config.daily_limits = dict(limits)
        for name in (
            "strict_csv",
            "delete_with_target_removes_membership_only",
            "status_change_spares_ban",
        ):
            if name in body:
                setattr(config, name, _bool(body[name], name))
        if "faults" in body:
            faults = body["faults"] or []
            if not isinstance(faults, list) or not all(isinstance(f, dict) for f in faults):
                raise AdminError("faults must be a list of objects")
            config.faults = [
                {
                    "action": f.get("action", "*"),
                    "status": int(f.get("status", 500)),
                    "code": int(f.get("code", 81500)),
                    "times": f.get("times", 1),
                    "account": f.get("account"),
                    "message": f.get("message"),
                }
                for f in faults
            ]
        clock = self.store.clock
        if "now" in body:
            now = body["now"]
            instant = None if now is None else _time_field(body, "now", 0, "config")
            clock.set(instant, running=bool(body.get("clock_running", False)))
        if "advance_seconds" in body:
            clock.advance(float(body["advance_seconds"]))
        self.store.wakeup.notify_all()

    def load_data(self, data: dict) -> None:
        """Load a `--data` document: accounts, customers, mails, events, answers, config."""
        for spec in data.get("accounts", []):
            self.create_account(spec)
        for block in data.get("customers", []):
            self.add_customers(self._account(block.get("account")), block.get("customers", []))
        for kind, adder in (
            ("mails", self.add_mails),
            ("events", self.add_events),
            ("answers", self.add_answers),
        ):
            grouped: dict[str, list] = {}
            for entry in data.get(kind, []):
                if kind in entry and isinstance(entry[kind], list):
                    grouped.setdefault(entry.get("account"), []).extend(entry[kind])
                else:
                    grouped.setdefault(entry.get("account"), []).append(entry)
            for key, entries in grouped.items():
                adder(self._account(key), entries)
        if data.get("config"):
            self.apply_config(data["config"])

    # ----- accounts ----------------------------------------------------------------------

    def post_accounts(self, request: Request) -> Response:
        """Create (or replace) one account, or several under `accounts`."""
        body = self._body(request)
        specs = body if isinstance(body, list) else body.get("accounts", [body])
        accounts = [self.create_account(spec) for spec in specs]
        definitions = [self._definition(account, request) for account in accounts]
        if isinstance(body, dict) and "accounts" not in body:
            return _json(definitions[0], 201)
        return _json({"accounts": definitions}, 201)

    def create_account(self, spec: dict) -> Account:
        """Build an account from its JSON definition; an existing key is replaced."""
        if not isinstance(spec, dict):
            raise AdminError("an account definition must be an object")
        key = str(_need(spec, "account_key", "account"))
        now = self.store.now()
        account = Account(key, now)
        self._apply_settings(account, spec, f"account {key}")
        email_label = spec.get("email_label") or DEFAULT_EMAIL_LABEL
        item_specs = list(spec.get("items", []))
        if not any(item.get("type") == "email" for item in item_specs):
            item_specs.insert(0, {"label": email_label, "type": "email"})
        # Generated ids skip the explicit ones given anywhere in the list.
        reserved = {str(s["item_id"]) for s in item_specs if s.get("item_id")}
        for item_spec in item_specs:
            self._add_item(account, item_spec, reserved=reserved)
        for group_spec in spec.get("groups", []):
            self._add_group(account, group_spec)
        for plan_spec in spec.get("plans", []):
            self._add_plan(account, plan_spec)
        for form_spec in spec.get("forms", []):
            self._add_form(account, form_spec)
        for user_spec in spec.get("users", []):
            self._add_user(account, user_spec)
        self.store.accounts[key] = account
        if spec.get("mails"):
            self.add_mails(account, spec["mails"])
        if spec.get("customers"):
            self.add_customers(account, spec["customers"])
        return account

    def _apply_settings(self, account: Account, spec: dict, where: str) -> None:
        for name in ACCOUNT_SETTINGS:
            if name not in spec:
                continue
            value = spec[name]
            if name == "plan":
                if value not in PLANS:
                    raise AdminError(f"{where}: plan must be one of {', '.join(PLANS)}")
                account.plan = value
            elif name in ("api_option", "dedicated_server", "sync_states_across_groups"):
                setattr(account, name, _bool(value, f"{where}: {name}"))
            elif name == "strict_csv":
                account.strict_csv = None if value is None else _bool(value, f"{where}: {name}")
            elif name == "ip_allowlist":
                account.ip_allowlist = self._allowlist(value, where)
            elif name in ("max_items", "max_groups"):
                if not isinstance(value, int) or value < 1:
                    raise AdminError(f"{where}: {name} must be a positive integer")
                setattr(account, name, value)
            elif name == "daily_limit":
                if value is not None and (not isinstance(value, int) or value < 0):
                    raise AdminError(f"{where}: daily_limit must be a non-negative integer")
                account.daily_limit = value
            else:
                setattr(account, name, _opt_str(value))

    @staticmethod
    def _allowlist(value, where: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = [line for line in value.splitlines() if line.strip()]
        result = []
        for entry in value:
            text = str(entry).strip()
            # The product takes one address per line; ranges and networks are refused.
            try:
                result.append(str(ipaddress.ip_address(text)))
            except ValueError as error:
                raise AdminError(
                    f"{where}: ip_allowlist takes single IP addresses, not {text!r}"
                ) from error
        return result

    def _definition(self, account: Account, request: Request) -> dict:
        base = request.host_url.rstrip("/")
        return {
            "account_key": account.account_key,
            "base_url": f"{base}/{account.account_key}/",
            **{name: getattr(account, name) for name in ACCOUNT_SETTINGS},
            "users": [
                {
                    "login_id": user.login_id,
                    "email": user.email,
                    "api_token": user.api_token,
                    "is_admin": user.is_admin,
                    "transport_password": user.transport_password,
                }
                for user in account.users.values()
            ],
            "items": [item_json(item) for item in account.items.values()],
            "groups": [group_json(account, group) for group in account.groups.values()],
            "plans": [plan_json(account, plan) for plan in account.plans.values()],
            "forms": [form_json(form) for form in account.forms.values()],
            "mails": [
                mail_json(account, mail, self.store.now() - self.store.config.event_lag_seconds)
                for mail in account.mails.values()
            ],
            "customer_count": len(account.customers_by_id),
            "event_counts": {kind: len(log.all.events) for kind, log in account.events.items()},
            "answer_count": len(account.answers.answers),
        }

    # ----- schema objects ----------------------------------------------------------------

    def _add(self, account: Account, kind: str, spec: dict, request: Request) -> dict:
        if kind == "items":
            return item_json(self._add_item(account, spec))
        if kind == "groups":
            return group_json(account, self._add_group(account, spec))
        if kind == "plans":
            return plan_json(account, self._add_plan(account, spec))
        if kind == "forms":
            return form_json(self._add_form(account, spec))
        if kind == "users":
            user = self._add_user(account, spec)
            return {"login_id": user.login_id, "email": user.email, "api_token": user.api_token}
        mail = self.add_mails(account, [spec])[0]
        return mail_json(account, mail, self.store.now())

    def _check_item(self, account: Account, item: Item, where: str) -> None:
        if item.type not in ITEM_TYPES:
            raise AdminError(f"{where}: type must be one of {', '.join(ITEM_TYPES)}")
        if item.input_rule not in INPUT_RULES:
            raise AdminError(f"{where}: input_rule must be one of {', '.join(INPUT_RULES)}")
        if item.label in RESERVED_LABELS or not item.label:
            raise AdminError(f"{where}: label {item.label!r} is not allowed")
        for other in account.items.values():
            if other is not item and other.label == item.label:
                raise AdminError(f"{where}: label {item.label!r} already exists")
        if item.type in CHOICE_TYPES:
            if not item.options:
                raise AdminError(f"{where}: choice items need options")
            if len(set(item.options)) != len(item.options):
                raise AdminError(f"{where}: options must be unique")
            for option in item.options:
                if not option or FORBIDDEN_OPTION_CHARS & set(option):
                    raise AdminError(
                        f"{where}: option {option!r} may not be empty or contain , {{ }} or space"
                    )
        elif item.options:
            raise AdminError(f"{where}: only choice items take options")

    def _add_item(self, account: Account, spec: dict, reserved: set[str] | None = None) -> Item:
        where = f"item {spec.get('label')!r}"
        item_type = spec.get("type", "text")
        if item_type == "email" and any(i.type == "email" for i in account.items.values()):
            raise AdminError(f"{where}: an account has exactly one email item")
        non_email = sum(1 for i in account.items.values() if i.type != "email")
        if item_type != "email" and non_email >= account.max_items:
            raise AdminError(f"{where}: the account allows at most {account.max_items} items")
        item_id = _opt_str(spec.get("item_id"))
        if item_id is None:
            item_id = account.new_item_id()
            while reserved and item_id in reserved:
                item_id = account.new_item_id()
        elif item_id in account.items:
            raise AdminError(f"{where}: item_id {item_id} already exists")
        item = Item(
            item_id=item_id,
            label=str(_need(spec, "label", "item")),
            type=item_type,
            options=[str(o) for o in spec.get("options", [])],
            input_rule=spec.get("input_rule") or "none",
            required=_bool(spec.get("required", False), f"{where}: required"),
        )
        item.refresh()
        self._check_item(account, item, where)
        account.items[item.item_id] = item
        account.claim_id("next_item_seq", item.item_id, "I")
        return item

    def _add_group(self, account: Account, spec: dict) -> Group:
        if len(account.groups) >= account.max_groups:
            raise AdminError(f"the account allows at most {account.max_groups} delivery groups")
        gid = _opt_str(spec.get("gid")) or account.new_numeric_id("next_group_seq", account.groups)
        if gid in account.groups:
            raise AdminError(f"gid {gid} already exists")
        group = Group(
            gid=gid,
            name=str(_need(spec, "name", "group")),
            from_address=str(spec.get("from_address") or ""),
            created_at=_time_field(spec, "created_at", self.store.now(), "group"),
            lead_statuses=self._lead_statuses(spec.get("lead_statuses")),
        )
        account.groups[gid] = group
        account.claim_id("next_group_seq", gid)
        return group

    @staticmethod
    def _lead_statuses(value) -> list[str]:
        statuses = [str(v) for v in (value or [])]
        # 「未設定」 is the default status of every group and cannot be removed.
        statuses = ["未設定"] + [s for s in statuses if s != "未設定"]
        if len(statuses) > 10:
            raise AdminError("a group has at most 10 lead statuses")
        return statuses

    def _add_plan(self, account: Account, spec: dict) -> StepPlan:
        spid = _opt_str(spec.get("spid")) or account.new_numeric_id("next_plan_seq", account.plans)
        if spid in account.plans:
            raise AdminError(f"spid {spid} already exists")
        start_mode = spec.get("start_mode", "registration")
        if start_mode not in ("registration", "start_date"):
            raise AdminError("start_mode must be registration or start_date")
        plan = StepPlan(
            spid=spid,
            name=str(_need(spec, "name", "plan")),
            start_mode=start_mode,
            created_at=_time_field(spec, "created_at", self.store.now(), "plan"),
        )
        account.plans[spid] = plan
        account.claim_id("next_plan_seq", spid)
        return plan

    def _form_fields(self, account: Account, spec: dict, form: Form) -> None:
        if "form_name" in spec:
            form.form_name = str(_need(spec, "form_name", "form"))
        if "status" in spec:
            if spec["status"] not in ("open", "closed"):
                raise AdminError("form status must be open or closed")
            form.status = spec["status"]
        if "target_gids" in spec:
            form.target_gids = _form_targets(spec["target_gids"], account.groups, "gids")
        if "target_spids" in spec:
            form.target_spids = _form_targets(spec["target_spids"], account.plans, "spids")
        if "item_ids" in spec or "items" in spec:
            by_label = account.items_by_label()
            ids = []
            for ref in spec.get("item_ids", spec.get("items")) or []:
                item = account.items.get(str(ref)) or by_label.get(str(ref))
                if item is None:
                    raise AdminError(f"form uses unknown item {ref!r}")
                ids.append(item.item_id)
            form.item_ids = ids

    def _add_form(self, account: Account, spec: dict) -> Form:
        form_id = _opt_str(spec.get("form_id")) or account.new_numeric_id(
            "next_form_seq", account.forms
        )
        if form_id in account.forms:
            raise AdminError(f"form_id {form_id} already exists")
        form = Form(
            form_id=form_id,
            form_name=str(_need(spec, "form_name", "form")),
            created_at=_time_field(spec, "created_at", self.store.now(), "form"),
        )
        self._form_fields(account, spec, form)
        account.forms[form_id] = form
        account.claim_id("next_form_seq", form_id)
        return form

    def _add_user(self, account: Account, spec: dict) -> User:
        login_id = str(_need(spec, "login_id", "user"))
        if login_id in account.users:
            raise AdminError(f"login_id {login_id} already exists")
        token = spec.get("api_token", "") if "api_token" in spec else ""
        user = User(
            login_id=login_id,
            email=str(spec.get("email") or spec.get("mail") or f"{login_id}@example.jp"),
            api_token=secrets.token_hex(16) if token == "" else _opt_str(token),
            is_admin=_bool(spec.get("is_admin", True), "is_admin"),
            transport_password=_opt_str(spec.get("transport_password")),
        )
        account.users[login_id] = user
        return user

    def _patch(self, account: Account, kind: str, object_id: str, spec: dict, request) -> dict:
        if kind == "items":
            item = account.items.get(object_id)
            if item is None:
                raise AdminError(f"unknown item {object_id}", 404)
            before = (item.label, item.type, list(item.options), item.input_rule, item.required)
            if "label" in spec:
                item.label = str(_need(spec, "label", "item"))
            if "type" in spec:
                if (spec["type"] == "email") != item.is_email:
                    raise AdminError("the email item's type cannot change")
                item.type = spec["type"]
            if "options" in spec:
                item.options = [str(o) for o in spec["options"] or []]
            if "input_rule" in spec:
                item.input_rule = spec["input_rule"] or "none"
            if "required" in spec:
                item.required = _bool(spec["required"], "required")
            item.refresh()
            try:
                self._check_item(account, item, f"item {object_id}")
            except AdminError:
                item.label, item.type, item.options, item.input_rule, item.required = before
                item.refresh()
                raise
            return item_json(item)
        if kind == "groups":
            group = account.groups.get(object_id)
            if group is None:
                raise AdminError(f"unknown gid {object_id}", 404)
            if "name" in spec:
                group.name = str(_need(spec, "name", "group"))
            if "from_address" in spec:
                group.from_address = str(spec["from_address"] or "")
            if "lead_statuses" in spec:
                group.lead_statuses = self._lead_statuses(spec["lead_statuses"])
            return group_json(account, group)
        if kind == "plans":
            plan = account.plans.get(object_id)
            if plan is None:
                raise AdminError(f"unknown spid {object_id}", 404)
            if "name" in spec:
                plan.name = str(_need(spec, "name", "plan"))
            if "start_mode" in spec:
                if spec["start_mode"] not in ("registration", "start_date"):
                    raise AdminError("start_mode must be registration or start_date")
                plan.start_mode = spec["start_mode"]
            return plan_json(account, plan)
        if kind == "forms":
            form = account.forms.get(object_id)
            if form is None:
                raise AdminError(f"unknown form_id {object_id}", 404)
            self._form_fields(account, spec, form)
            return form_json(form)
        if kind == "users":
            user = account.users.get(object_id)
            if user is None:
                raise AdminError(f"unknown login_id {object_id}", 404)
            if spec.get("regenerate_token"):
                user.api_token = secrets.token_hex(16)
            elif "api_token" in spec:
                user.api_token = _opt_str(spec["api_token"])
            if "email" in spec or "mail" in spec:
                user.email = str(spec.get("email") or spec.get("mail"))
            if "is_admin" in spec:
                user.is_admin = _bool(spec["is_admin"], "is_admin")
            if "transport_password" in spec:
                user.transport_password = _opt_str(spec["transport_password"])
            return {"login_id": user.login_id, "email": user.email, "api_token": user.api_token}
        mail = account.mails.get(object_id)
        if mail is None:
            raise AdminError(f"unknown mail_id {object_id}", 404)
        for name in ("subject",):
            if name in spec:
                mail.subject = str(spec[name])
        for name in ("sent_count", "error_count"):
            if name in spec:
                setattr(mail, name, int(spec[name]))
        if "sent_at" in spec:
            mail.sent_at = _time_field(spec, "sent_at", mail.sent_at, "mail")
        return mail_json(account, mail, self.store.now())

    def _delete(self, account: Account, kind: str, object_id: str) -> None:
        now = self.store.now()
        if kind == "items":
            item = account.items.get(object_id)
            if item is None:
                raise AdminError(f"unknown item {object_id}", 404)
            if item.is_email:
                raise AdminError("the email item cannot be deleted")
            del account.items[object_id]
            for customer in account.customers_by_id.values():
                customer.values.pop(object_id, None)
            for form in account.forms.values():
                form.item_ids = [i for i in form.item_ids if i != object_id]
        elif kind in ("groups", "plans"):
            table = account.groups if kind == "groups" else account.plans
            if object_id not in table:
                raise AdminError(
                    f"unknown {'gid' if kind == 'groups' else 'spid'} {object_id}", 404
                )
            del table[object_id]
            target = ("group" if kind == "groups" else "step", object_id)
            for customer_id in list(account.members.get(target, {})):
                account.remove_membership(account.customers_by_id[customer_id], target, now)
            account.members.pop(target, None)
            for form in account.forms.values():
                if kind == "groups":
                    form.target_gids = [g for g in form.target_gids if g != object_id]
                else:
                    form.target_spids = [s for s in form.target_spids if s != object_id]
        else:
            table = {
                "forms": account.forms,
                "users": account.users,
                "mails": account.mails,
            }[kind]
            if object_id not in table:
                raise AdminError(f"unknown {kind[:-1]} {object_id}", 404)
            del table[object_id]

    # ----- customers ---------------------------------------------------------------------

    def post_customers(self, request: Request) -> Response:
        """Bulk upsert of customers with values, memberships and states."""
        body = self._body(request)
        account = self._account(body.get("account"))
        created, updated = self.add_customers(account, body.get("customers", []))
        return _json({"ok": True, "created": created, "updated": updated})

    def add_customers(self, account: Account, specs: list[dict]) -> tuple[int, int]:
        """Upsert customers by email; admin states are written as given (no spreading)."""
        now = self.store.now()
        by_label = account.items_by_label()
        created = updated = 0
        for index, spec in enumerate(specs):
            where = f"customers[{index}]"
            email = str(_need(spec, "email", where)).strip()
            key = email_key(email)
            if key is None:
                raise AdminError(f"{where}: invalid email {email!r}")
            values = {}
            for ref, raw in (spec.get("values") or {}).items():
                item = account.items.get(ref) or by_label.get(ref)
                if item is None or item.is_email:
                    raise AdminError(f"{where}: unknown item {ref!r}")
                try:
                    values[item.item_id] = convert_json_value(item, raw)
                except ValueInvalid as invalid:
                    raise AdminError(f"{where}.values.{ref}: {invalid.message}") from invalid
            customer = account.customer_by_email(key)
            if customer is None:
                customer = self._new_customer(account, spec, email, key, now, where)
                created += 1
            else:
                updated += 1
            for item_id, value in values.items():
                if value in ("", ()):
                    customer.values.pop(item_id, None)
                else:
                    customer.values[item_id] = value
            for m_index, m_spec in enumerate(spec.get("memberships") or []):
                self._membership(account, customer, m_spec, now, f"{where}.memberships[{m_index}]")
            if "error_count" in spec:
                customer.error_count = int(spec["error_count"] or 0)
            customer.created_at = _time_field(spec, "created_at", customer.created_at, where)
            customer.updated_at = _time_field(spec, "updated_at", now, where)
        account.touch()
        return created, updated

    def _new_customer(self, account: Account, spec, email: str, key: str, now: int, where: str):
        wanted = spec.get("customer_id")
        if wanted is None:
            return account.create_customer(email, key, now)
        if not isinstance(wanted, int) or wanted < 1:
            raise AdminError(f"{where}: customer_id must be a positive integer")
        if wanted in account.customers_by_id:
            raise AdminError(f"{where}: customer_id {wanted} is taken")
        saved = account.next_customer_id
        account.next_customer_id = wanted
        customer = account.create_customer(email, key, now)
        account.next_customer_id = max(saved, wanted + 1)
        if wanted < saved - 1:
            account.ids_unordered = True
        return customer

    def _membership(self, account: Account, customer, spec: dict, now: int, where: str) -> None:
        if spec.get("gid") is not None:
            target = ("group", str(spec["gid"]))
        elif spec.get("spid") is not None:
            target = ("step", str(spec["spid"]))
        elif spec.get("type") in ("group", "step") and spec.get("id") is not None:
            target = (spec["type"], str(spec["id"]))
        else:
            raise AdminError(f"{where}: give gid, spid or type+id")
        if not account.target_exists(*target):
            raise AdminError(f"{where}: unknown target {target[0]} {target[1]}")
        raw_state = spec.get("state", "ok")
        state = STATE_BY_LABEL.get(raw_state, raw_state)
        if state not in STATES:
            raise AdminError(f"{where}: state must be ok, stop or ban (or 配信可能/停止/禁止)")
        reason = spec.get("reason", "admin")
        if reason not in STATE_REASONS:
            raise AdminError(f"{where}: reason must be one of {', '.join(STATE_REASONS)}")
        if spec.get("remove"):
            account.remove_membership(customer, target, now)
            return
        step_date = spec.get("step_start_date")
        if step_date is not None and normalize_date(str(step_date)) is None:
            raise AdminError(f"{where}: step_start_date must be YYYY/MM/DD")
        registered_at = _time_field(spec, "registered_at", now, where)
        membership, created = account.ensure_membership(
            customer,
            target,
            registered_at,
            reason,
            state=state,
            step_start_date=normalize_date(str(step_date)) if step_date else None,
        )
        if not created and membership.state != state:
            membership.state = state
            membership.reason = reason
        if not created and step_date:
            membership.step_start_date = normalize_date(str(step_date))
        membership.changed_at = _time_field(
            spec, "changed_at", registered_at if created else now, where
        )
        if "lead_status" in spec and target[0] == "group":
            membership.lead_status = _opt_str(spec["lead_status"])

    def get_customers(self, request: Request) -> Response:
        """One customer (`email=`) or all of them (paged by offset/limit when given)."""
        account = self._account(request.args.get("account"))
        base = request.host_url
        email = request.args.get("email")
        if email:
            key = email_key(email.strip())
            customer = account.customer_by_email(key) if key else None
            if customer is None:
                raise AdminError(f"no customer {email}", 404)
            return _json(self._customer(account, customer, base))
        customers = list(account.customers_by_id.values())
        if account.ids_unordered:
            customers.sort(key=lambda c: c.customer_id)
        offset = int(request.args.get("offset", 0))
        limit = request.args.get("limit")
        chunk = customers[offset : offset + int(limit)] if limit else customers[offset:]
        return _json(
            {
                "total": len(customers),
                "customers": [self._customer(account, c, base) for c in chunk],
            }
        )

    @staticmethod
    def _customer(account: Account, customer, base: str) -> dict:
        data = customer_json(account, customer, base)
        data["error_count"] = customer.error_count
        data["values_by_id"] = {
            item_id: list(value) if isinstance(value, tuple) else value
            for item_id, value in customer.values.items()
        }
        return data

    # ----- mails, events, answers ---------------------------------------------------------

    def post_mails(self, request: Request) -> Response:
        """Bulk add of sent mails."""
        body = self._body(request)
        account = self._account(body.get("account"))
        mails = self.add_mails(account, body.get("mails", []))
        account.touch()
        now = self.store.now()
        return _json({"ok": True, "mail_ids": [m.mail_id for m in mails], "now": format_jst(now)})

    def add_mails(self, account: Account, specs: list[dict]) -> list[Mail]:
        """Create mails; mail_id defaults to the next decimal id."""
        now = self.store.now()
        created = []
        for index, spec in enumerate(specs):
            where = f"mails[{index}]"
            mail_type = spec.get("mail_type", "group")
            if mail_type not in MAIL_TYPES:
                raise AdminError(f"{where}: mail_type must be one of {', '.join(MAIL_TYPES)}")
            mail_id = _opt_str(spec.get("mail_id")) or account.new_numeric_id(
                "next_mail_seq", account.mails
            )
            target_id = _opt_str(spec.get("target_id") or spec.get("gid") or spec.get("spid"))
            mail = Mail(
                mail_id=mail_id,
                mail_type=mail_type,
                target_id=target_id,
                subject=str(spec.get("subject") or ""),
                sent_at=_time_field(spec, "sent_at", now, where),
                sent_count=int(spec.get("sent_count") or 0),
                error_count=int(spec.get("error_count") or 0),
            )
            account.mails[mail_id] = mail
            account.claim_id("next_mail_seq", mail_id)
            created.append(mail)
        return created

    def post_events(self, request: Request) -> Response:
        """Bulk add of reaction events (any order, any types)."""
        body = self._body(request)
        account = self._account(body.get("account"))
        events = self.add_events(account, body.get("events", []))
        return _json(
            {
                "ok": True,
                "count": len(events),
                "event_ids": [e.event_id or str(e.seq) for e in events],
            }
        )

    def add_events(self, account: Account, specs: list[dict]) -> list[Event]:
        """Create events; customer_id is resolved from the email when not given."""
        now = self.store.now()
        events: list[Event] = []
        auto_mails: dict[str, Mail] = {}
        for index, spec in enumerate(specs):
            where = f"events[{index}]"
            action_type = spec.get("action_type") or spec.get("type")
            if action_type not in EVENT_TYPES:
                raise AdminError(f"{where}: action_type must be one of {', '.join(EVENT_TYPES)}")
            email = str(_need(spec, "email", where))
            occurred_at = _time_field(spec, "occurred_at", now, where)
            mail_id = _opt_str(spec.get("mail_id"))
            mail_type = spec.get("mail_type")
            subject = spec.get("subject")
            if mail_type is not None and mail_type not in MAIL_TYPES:
                raise AdminError(f"{where}: mail_type must be one of {', '.join(MAIL_TYPES)}")
            if mail_id is not None:
                mail = account.mails.get(mail_id) or auto_mails.get(mail_id)
                if mail is None:
                    # Events may name mails the test never declared: record them as sent.
                    mail = Mail(mail_id, mail_type or "group", None, subject or "", occurred_at)
                    auto_mails[mail_id] = mail
                elif mail_id in auto_mails:
                    mail.sent_at = min(mail.sent_at, occurred_at)
                mail_type = mail_type or mail.mail_type
                subject = subject if subject is not None else mail.subject
            customer_id = spec.get("customer_id")
            key = email_key(email)
            customer = account.customer_by_email(key) if key else None
            if customer_id is None and customer is not None:
                customer_id = customer.customer_id
            if customer is not None and customer.email == email:
                email = customer.email
            share = account.share
            seq = account.next_event()
            events.append(
                Event(
                    seq=seq,
                    event_id=_opt_str(spec.get("event_id")),
                    action_type=action_type,
                    occurred_at=occurred_at,
                    email=email,
                    customer_id=customer_id,
                    mail_type=share(mail_type),
                    mail_id=share(mail_id),
                    subject=share(subject),
                    url=share(spec.get("url")),
                    click_url_code=share(_opt_str(spec.get("click_url_code"))),
                    tag_name=share(spec.get("tag_name")),
                    page_url=share(spec.get("page_url")),
                    file_name=share(spec.get("file_name")),
                )
            )
        for mail_id, mail in auto_mails.items():
            account.mails.setdefault(mail_id, mail)
            account.claim_id("next_mail_seq", mail_id)
        account.add_events(events)
        return events

    def post_answers(self, request: Request) -> Response:
        """Bulk add of Bridge form answers (written into the DB and the form's targets)."""
        body = self._body(request)
        account = self._account(body.get("account"))
        answers = self.add_answers(account, body.get("answers", []))
        return _json(
            {
                "ok": True,
                "answers": [
                    {"answer_id": a.answer_id, "customer_id": a.customer_id, "email": a.email}
                    for a in answers
                ],
            }
        )

    def add_answers(self, account: Account, specs: list[dict]) -> list[Answer]:
        """Store answers, update the customer DB and register into the form's targets."""
        now = self.store.now()
        by_label = account.items_by_label()
        stored = []
        for index, spec in enumerate(specs):
            where = f"answers[{index}]"
            form_id = str(_need(spec, "form_id", where))
            form = account.forms.get(form_id)
            if form is None:
                raise AdminError(f"{where}: unknown form_id {form_id}")
            email = str(_need(spec, "email", where)).strip()
            key = email_key(email)
            if key is None:
                raise AdminError(f"{where}: invalid email {email!r}")
            raw_answers = spec.get("answers") or []
            if isinstance(raw_answers, dict):
                raw_answers = [{"ref": k, "value": v} for k, v in raw_answers.items()]
            entries = []
            for entry in raw_answers:
                ref = entry.get("item_id") or entry.get("label") or entry.get("ref")
                item = account.items.get(str(ref)) or by_label.get(str(ref))
                if item is None:
                    raise AdminError(f"{where}: unknown item {ref!r}")
                try:
                    value = convert_json_value(item, entry.get("value"))
                except ValueInvalid as invalid:
                    raise AdminError(f"{where}.{ref}: {invalid.message}") from invalid
                entries.append((item.item_id, item.label, value))
            answered_at = _time_field(spec, "answered_at", now, where)
            customer = account.customer_by_email(key)
            if customer is None:
                customer = account.create_customer(email, key, answered_at)
            for item_id, _, value in entries:
                item = account.items[item_id]
                if not item.is_email and value not in ("", ()):
                    customer.values[item_id] = value
            customer.updated_at = max(customer.updated_at, answered_at)
            for gid in form.target_gids:
                account.ensure_membership(customer, ("group", gid), answered_at, "admin")
            for spid in form.target_spids:
                account.ensure_membership(customer, ("step", spid), answered_at, "admin")
            seq = account.next_answer_seq
            account.next_answer_seq += 1
            answer_id = _opt_str(spec.get("answer_id"))
            if answer_id is None:
                answer_id = account.new_numeric_id("next_answer_id", account.answer_ids)
            elif answer_id in account.answer_ids:
                raise AdminError(f"{where}: answer_id {answer_id} already exists")
            account.answer_ids[answer_id] = None
            account.claim_id("next_answer_id", answer_id)
            answer = Answer(
                seq=seq,
                answer_id=answer_id,
                form_id=form_id,
                answered_at=answered_at,
                email=email,
                customer_id=customer.customer_id,
                answers=entries,
            )
            account.answers.add(answer)
            stored.append(answer)
        account.touch()
        return stored

    # ----- outbox, stats, jobs -----------------------------------------------------------

    def get_outbox(self, request: Request) -> Response:
        """Report mails, optionally for one account and/or one recipient."""
        key = request.args.get("account")
        to = request.args.get("to")
        mails = [
            mail
            for mail in self.store.outbox
            if (key is None or mail["account"] == key) and (to is None or mail["to"] == to)
        ]
        return _json({"mails": mails})

    def clear_outbox(self, request: Request) -> Response:
        """Empty the outbox (of one account when given)."""
        key = request.args.get("account")
        self.store.outbox = [
            m for m in self.store.outbox if key is not None and m["account"] != key
        ]
        return _json({"ok": True})

    def get_stats(self, request: Request) -> Response:
        """Calls per action (all outcomes), per result code, and today's budget per bucket."""
        key = request.args.get("account")
        today = jst_date(self.store.now())
        result = {}
        for account in self.store.iter_accounts(key):
            usage = {
                bucket: {
                    "used": used,
                    "limit": self.store.daily_limit(account, bucket),
                    "remaining": max(0, self.store.daily_limit(account, bucket) - used),
                }
                for (bucket, day), used in account.usage.items()
                if day == today
            }
            result[account.account_key] = {
                "calls": dict(account.calls),
                "results": {action: dict(codes) for action, codes in account.results.items()},
                "total_calls": sum(account.calls.values()),
                "usage_today": usage,
            }
        if key is not None:
            if key not in result:
                raise AdminError(f"unknown account {key}", 404)
            return _json({"account": key, **result[key]})
        return _json({"accounts": result})

    def get_jobs(self, request: Request) -> Response:
        """Every import job (of one account), newest last, with all errors."""
        key = request.args.get("account")
        jobs = [
            job.to_json()
            for account in self.store.iter_accounts(key)
            for job in account.jobs.values()
        ]
        return _json({"jobs": jobs})

    def run_jobs(self, request: Request) -> Response:
        """Process queued jobs now, ignoring the configured delay."""
        body = self._body(request)
        key = body.get("account") or request.args.get("account")
        # The lock is re-entrant; the runner releases and re-takes it between chunks.
        jobs = self.worker.run_now(key)
        return _json({"ok": True, "jobs": [job.to_json() for job in jobs]})
