"""Redemption API under concurrent scanners, on PostgreSQL, beside a baseline of the same run.

    python bench/redemption_api.py --database-url postgres://postgres@127.0.0.1:5432/coupons

It creates a throw-away database (`<name>_bench`), seeds one program with enough coupons, starts
gunicorn on a free loopback port, and measures with N concurrent scanner threads:
- the baseline: `GET /api/v1/health` (one trivial query, no authentication);
- the redemptions: `POST /api/v1/redemptions`, each scanner redeeming its own coupons.
It prints requests per second and p50/p95 latency for both, and their ratio. Nothing is asserted:
the figures are for people to compare between commits on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# method, path, body, headers
Request = tuple[str, str, bytes | None, dict[str, str]]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "coupons") + "_bench"
    return urlunsplit(parts._replace(path="/" + name))


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        name = parts.path.lstrip("/")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(coupon_count: int) -> tuple[str, list[str]]:
    """One program, one market, one vendor with a device; returns its token and coupon codes."""
    import datetime
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from beneficiaires.models import Organization, Partnership
    from comptes.models import User
    from coupons import codes
    from coupons.models import Coupon, IssuanceBatch
    from marches.models import Market, Vendor
    from marches.services import create_device
    from programmes.models import Program, Territory

    today = timezone.localdate()
    territory = Territory.objects.create(name="Banc d'essai")
    program = Program.objects.create(
        territory=territory,
        name="Banc d'essai",
        slug="banc",
        serial_prefix="BANC",
        season_start=today - datetime.timedelta(days=1),
        season_end=today + datetime.timedelta(days=30),
        budget=Decimal("1000000.00"),
    )
    organization = Organization.objects.create(name="Organisme", slug="organisme")
    Partnership.objects.create(organization=organization, program=program)
    market = Market.objects.create(name="Marché", slug="marche", city="Québec")
    market.programs.add(program)
    vendor = Vendor.objects.create(name="Ferme", slug="ferme")
    vendor.markets.add(market)
    user = User.objects.create_user("bench@example.org", "bench-password-2026")
    batch = IssuanceBatch.objects.create(
        program=program,
        organization=organization,
        issued_by=user,
        idempotency_key=uuid.uuid4(),
        coupon_count=coupon_count,
        total_value=Decimal("5.00") * coupon_count,
    )
    coupons = [
        Coupon(
            program=program,
            batch=batch,
            serial=f"BANC-{i:06d}",
            code=codes.generate_code(),
            value=Decimal("5.00"),
            valid_from=program.season_start,
            valid_until=program.season_end,
        )
        for i in range(coupon_count)
    ]
    Coupon.objects.bulk_create(coupons, batch_size=1000)
    _, token = create_device(vendor=vendor, market=market, name="banc", created_by=user)
    return token, [c.code for c in coupons]


def start_server(port: int, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
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


def load(
    port: int,
    scanners: int,
    requests_per_scanner: int,
    make_request: Callable[[int, int], Request],
) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(scanners + 1)

    def scanner(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        mine: list[float] = []
        seen: dict[int, int] = {}
        for n in range(requests_per_scanner):
            method, path, body, headers = make_request(index, n)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            mine.append(time.perf_counter() - started)
            seen[status] = seen.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=scanner, args=(i,)) for i in range(scanners)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, statuses


def report(name: str, elapsed: float, latencies: list[float], statuses: dict[int, int]) -> float:
    rps = len(latencies) / elapsed
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
    print(f"{name:<12} {rps:8.1f} req/s   p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   {statuses}")
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/coupons")
    parser.add_argument("--scanners", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="per scanner")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    url = bench_database_url(args.database_url)
    recreate_database(url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="false")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    token, coupon_codes = seed(args.scanners * args.requests)

    port = free_port()
    server = start_server(port, dict(os.environ), args.workers)
    try:
        headers_json = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

        def baseline(index: int, n: int) -> tuple[str, str, None, dict[str, str]]:
            return "GET", "/api/v1/health", None, {}

        def redemption(index: int, n: int) -> tuple[str, str, bytes, dict[str, str]]:
            code = coupon_codes[index * args.requests + n]
            body = json.dumps({"code": code, "client_id": str(uuid.uuid4())}).encode()
            return "POST", "/api/v1/redemptions", body, headers_json

        print(
            f"PostgreSQL, gunicorn x{args.workers} workers, {args.scanners} concurrent scanners, "
            f"{args.scanners * args.requests} requests each run"
        )
        base_rps = report("baseline", *load(port, args.scanners, args.requests, baseline))
        redeem_rps = report("redemptions", *load(port, args.scanners, args.requests, redemption))
        print(f"ratio        redemptions / baseline = {redeem_rps / base_rps:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
