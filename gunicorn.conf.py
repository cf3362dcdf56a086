# Operators can run `gunicorn -c gunicorn.conf.py`; `moodline serve` uses the same settings module.
from moodline.server.gunicorn_config import *  # noqa: F403
