"""Wires the registered connector types into a Flask app: blueprints, templates, filters."""

from __future__ import annotations

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from portal.connector_types.registry import connector_types, kind_label, process_name


def init_app(app: Flask) -> None:
    """Load every connector type and register its routes and templates on `app`.

    A type's blueprints (settings dialogs) and inbound blueprints (plugin, webhooks) are
    registered once per app; a type with a template folder adds it after the portal's own.
    """
    types = connector_types()
    for connector_type in types:
        for blueprint in (*connector_type.blueprints, *connector_type.inbound):
            if blueprint.name not in app.blueprints:
                app.register_blueprint(blueprint)
    folders = [str(t.template_folder) for t in types if t.template_folder is not None]
    if folders:
        app.jinja_loader = ChoiceLoader(
            [app.jinja_loader, *(FileSystemLoader(folder) for folder in folders)]
        )
    app.jinja_env.filters["kind_label"] = kind_label
    app.jinja_env.filters["process_name"] = process_name
