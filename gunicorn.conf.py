"""gunicorn's settings, read from the working directory by `gunicorn config.wsgi` (see
docs/configuration.md, "gunicorn"). Options given on the command line win over these."""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"

# Sync workers: a request holds a worker from its first byte to its last, so there are a few more
# workers than cores to cover the time each one waits on PostgreSQL. A redemption costs about 2 ms
# of a core (bench/README.md): on 2 cores, 5 workers serve about 500 a second.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
worker_class = "sync"
# A request that takes longer than this is killed (the worker restarts); a redemption takes
# milliseconds, a large report a few seconds.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
