"""The base of the portal's WTForms: text fields from an urlencoded or multipart form only."""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm


class PortalForm(FlaskForm):
    """A FlaskForm that reads only the text fields of the posted form.

    Flask-WTF would also take uploaded files and JSON bodies as field values; a file or a number
    where a text is expected then reaches the validators (TypeError, 500). Browsers send neither.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            # Flask-WTF passes a sentinel class when the caller gave no formdata.
            if hasattr(formdata, "getlist") or formdata is None:
                return formdata
            return request.form if form.is_submitted() and request.form else None
