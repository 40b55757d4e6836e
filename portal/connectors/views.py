from flask import Blueprint

bp = Blueprint("connectors", __name__)
