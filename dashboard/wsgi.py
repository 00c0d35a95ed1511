"""WSGI entry for gunicorn workers: the app built from the environment."""

from dashboard.app import Config, create_app

app = create_app(Config.from_env())
application = app.server
