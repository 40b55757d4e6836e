"""gunicorn settings, read by `gunicorn wsgi:app` started in the project folder."""

# Polling requests log at DEBUG; LOG_FORMAT=json makes every line JSON (portal/web/access_log.py).
logger_class = "portal.web.access_log.PortalGunicornLogger"
