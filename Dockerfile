# The application's image: gunicorn (gunicorn.conf.py) by default; the same image runs the task
# worker, the migrations and the scheduled jobs (compose.yaml, docs/deploy.md).
# Bookworm: its PostgreSQL client (pg_dump 15, for `manage.py backup`) matches compose's server.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home coupons

WORKDIR /app
COPY requirements.txt ./
RUN pip install --requirement requirements.txt

COPY --chown=coupons:coupons . .
# Static files are collected at build time (whitenoise serves them); no secret is needed.
RUN python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var/print backups \
    && chown -R coupons:coupons var backups

USER coupons
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
