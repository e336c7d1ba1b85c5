"""How fast the scanner page shows its verdict once a code is decoded, online and offline.

    python bench/scanner_latency.py [--scans 20] [--database-url postgres://…]

It makes a throw-away database (SQLite in a temporary folder, or `<name>_scanner_bench` on the
PostgreSQL server of --database-url), seeds a program, a market, a vendor and coupons, starts
gunicorn on a free loopback port (DEBUG=true: static files through the finders, as `make bench`
runs), and drives Debian's chromium with Playwright on the scanner page, signed in as the vendor:

- online: --scans QR texts handed to the page's scan path one after the other (put in the code
  field and submitted, as the camera does), each answered by the server (POST, fragment);
- offline (Playwright's offline mode): --scans more, each verified on the phone (WebCrypto
  Ed25519) and queued in IndexedDB; then the network comes back and the queue is synced.

scanner.js measures each verdict from the code handed over to the verdict in the page
(performance.measure("scanner-verdict")); the bench reads those measures back and prints their
median, p95 and maximum beside the 100 ms target. Nothing is asserted: the figures are for
people to compare between commits on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET_MS = 100.0

READ_MEASURES = """(path) => performance.getEntriesByName("scanner-verdict", "measure")
  .filter((entry) => entry.detail && entry.detail.path === path)
  .map((entry) => entry.duration)"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def throwaway_database(url: str | None, folder: Path) -> str:
    """A fresh, empty database for this run."""
    if not url:
        return f"sqlite:///{folder / 'scanner-bench.sqlite3'}"
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "coupons") + "_scanner_bench"
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def seed(count: int) -> tuple[str, str, list[str]]:
    """One program taking offline scans, a market, a vendor and its member; returns the
    scanner's path, a session cookie of the vendor's member and `count` coupons' QR texts."""
    import datetime
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from beneficiaires.models import Organization, Partnership
    from comptes.models import User
    from coupons import codes
    from coupons.models import Coupon, IssuanceBatch
    from coupons.selectors import qr_text_for
    from marches.models import Market, Vendor
    from programmes.models import Program, Territory

    today = timezone.localdate()
    program = Program.objects.create(
        territory=Territory.objects.create(name="Banc d'essai"),
        name="Banc d'essai",
        slug="banc",
        serial_prefix="BANC",
        season_start=today - datetime.timedelta(days=1),
        season_end=today + datetime.timedelta(days=30),
        offline_max_count=count,
        offline_max_value=Decimal("5.00") * count,
    )
    organization = Organization.objects.create(name="Organisme", slug="organisme")
    Partnership.objects.create(organization=organization, program=program)
    market = Market.objects.create(name="Marché", slug="marche", city="Québec")
    market.programs.add(program)
    vendor = Vendor.objects.create(name="Ferme", slug="ferme")
    vendor.markets.add(market)
    user = User.objects.create_user("bench@example.org", "bench-password-2026")
    vendor.members.add(user)
    batch = IssuanceBatch.objects.create(
        program=program,
        organization=organization,
        issued_by=user,
        idempotency_key=uuid.uuid4(),
        coupon_count=count,
        total_value=Decimal("5.00") * count,
    )
    coupons = Coupon.objects.bulk_create(
        Coupon(
            program=program,
            batch=batch,
            serial=f"BANC-{i:06d}",
            code=codes.generate_code(),
            value=Decimal("5.00"),
            valid_from=program.season_start,
            valid_until=program.season_end,
        )
        for i in range(count)
    )
    client = Client()
    client.force_login(user)
    path = reverse("marches:scanner", kwargs={"slug": vendor.slug, "market_slug": market.slug})
    return path, client.cookies["sessionid"].value, [qr_text_for(c) for c in coupons]


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def scan(page: Any, text: str, status: str) -> None:
    """Hand one decoded code to the page's scan path and wait for its verdict."""
    page.fill("#id_code", text)
    page.evaluate("document.getElementById('scan-form').requestSubmit()")
    page.locator(f"#verdict [data-status={status}]").wait_for(timeout=30_000)
    page.locator("#scan-next").click()


def report(name: str, durations: list[float]) -> None:
    ordered = sorted(durations)
    p95 = ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]
    median = statistics.median(ordered)
    verdict = "ok" if p95 < TARGET_MS else "OVER"
    print(
        f"{name:<8} {len(ordered):3d} scans   median {median:6.1f} ms   p95 {p95:6.1f} ms   "
        f"max {ordered[-1]:6.1f} ms   target {TARGET_MS:.0f} ms: {verdict}"
    )


def measure(base_url: str, path: str, session: str, texts: list[str], scans: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(locale="fr-CA", viewport={"width": 390, "height": 844})
        context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
        page = context.new_page()
        page.goto(base_url + path)
        # Paired, configured, and the service worker in place (as a vendor's phone would be).
        page.locator("#scanner-device", has_text="Coupons annulés à jour").wait_for(timeout=30_000)
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")

        for text in texts[:scans]:
            scan(page, text, "accepted")
        online = page.evaluate(READ_MEASURES, "online")

        context.set_offline(True)
        for text in texts[scans : 2 * scans]:
            scan(page, text, "queued")
        offline = page.evaluate(READ_MEASURES, "offline")
        context.set_offline(False)
        page.locator("#scanner-results-rows tr[data-status=accepted]").nth(scans - 1).wait_for(
            timeout=60_000
        )
        browser.close()

    print(f"chromium {CHROMIUM}, gunicorn x1 worker, one scanner; verdict shown after decoding")
    report("online", online)
    report("offline", offline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=20, help="per path (online, offline)")
    parser.add_argument("--database-url", default="", help="PostgreSQL; SQLite by default")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install -y chromium)")

    with tempfile.TemporaryDirectory(prefix="scanner-bench-") as folder:
        url = throwaway_database(args.database_url, Path(folder))
        os.environ.update(
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="config.settings",
            DEBUG="true",
            TASKS_BACKEND="immediate",
        )
        os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
        path, session, texts = seed(2 * args.scans)
        port = free_port()
        server = start_server(port, dict(os.environ))
        try:
            measure(f"http://127.0.0.1:{port}", path, session, texts, args.scans)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
