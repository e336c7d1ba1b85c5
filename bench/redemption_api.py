"""The redemption API on PostgreSQL through gunicorn, beside a raw-SQL baseline of the same run.

    python bench/redemption_api.py [--database-url postgres://postgres@127.0.0.1:5432/coupons]

It creates a throw-away database (`<name>_bench`), seeds one program, market, vendor and device
and enough fresh coupons, then starts two gunicorn servers with the same options and workers:

- **ours**: `POST /api/v1/redemptions` of `config.wsgi` (every middleware, django-ninja,
  `redeem_coupon`);
- **baseline**: `bench/baseline_app.py`, a minimal Django view without middleware doing the same
  database work with raw SQL (device by token hash, coupon by code, conditional UPDATE, INSERT).

Every request redeems a coupon never used before, with a fresh `client_id`, so every answer must
be `201`. Each round measures both servers twice, in turn (the order alternates between rounds):

- **saturation**: `wrk` (Debian package `wrk`) with `bench/redeem.lua`, 50 connections;
- **fixed offered load**: an open-loop asyncio client that sends 200 requests per second on a
  fixed schedule, whatever the answers, and measures each latency from the time the request was
  *scheduled*, so a server that falls behind shows its queueing (no coordinated omission).

It prints each round, then the medians over the rounds: requests per second at saturation and
the ratio ours / baseline (target >= 0.5), p50/p95 at the fixed load (target p95 < 50 ms), and the
count of every HTTP status. It ends by checking the ledger: one redemption row per 201 answered.
Nothing is asserted by the tests: the figures are for people to compare on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LUA = Path(__file__).resolve().parent / "redeem.lua"

OURS_PATH = "/api/v1/redemptions"
BASELINE_PATH = "/redeem"
TARGET_RATIO = 0.5
TARGET_P95_MS = 50.0


# The database ---------------------------------------------------------------------------------


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
    """One program, one market, one vendor with a device; returns its token and the coupons'
    manual codes, shuffled (scanners present coupons in no particular order)."""
    import datetime
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
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
    manual = {codes.generate_code() for _ in range(coupon_count)}
    while len(manual) < coupon_count:
        manual.add(codes.generate_code())
    coupons = [
        Coupon(
            program=program,
            batch=batch,
            serial=f"BANC-{i:07d}",
            code=code,
            value=Decimal("5.00"),
            valid_from=program.season_start,
            valid_until=program.season_end,
        )
        for i, code in enumerate(sorted(manual))
    ]
    Coupon.objects.bulk_create(coupons, batch_size=5000)
    _, token = create_device(vendor=vendor, market=market, name="banc", created_by=user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connection.close()
    texts = [c.code for c in coupons]
    random.Random(2026).shuffle(texts)
    return token, texts


def ledger_check(answered_201: int, unanswered: int) -> str:
    """One accepted redemption per coupon redeemed and per 201 (a request that timed out on the
    client, or that was in flight when wrk stopped, may still have been redeemed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM marches_redemption WHERE status = 'accepted'")
        redemptions = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM coupons_coupon WHERE status = 'redeemed'")
        redeemed = cursor.fetchone()[0]
    connection.close()
    ok = redemptions == redeemed and answered_201 <= redemptions <= answered_201 + unanswered
    return (
        f"ledger: {redemptions} accepted redemptions, {redeemed} coupons redeemed, "
        f"{answered_201} answers 201, at most {unanswered} requests unanswered: "
        f"{'ok' if ok else 'MISMATCH'}"
    )


# The servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    app: str
    path: str
    probe: str  # a GET that answers once a worker is up
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], workers: int) -> None:
        # The same gunicorn for both: the options of ./gunicorn.conf.py if there is one (gunicorn
        # reads it from the working directory), the same number of workers.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                self.app,
                "--bind",
                f"127.0.0.1:{self.port}",
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
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", self.probe)
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not start for {self.name}")

    def settle(self, timeout: float = 120.0) -> None:
        """Wait until requests that a client gave up on are drained from the listen queue, so
        that the next measurement starts on an idle server."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                conn.request("GET", self.probe)
                conn.getresponse().read()
            except OSError:
                pass
            if time.monotonic() - started < 0.05:
                time.sleep(0.5)  # and let PostgreSQL finish its own work
                return
        raise SystemExit(f"{self.name} did not settle within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Codes:
    """The coupon codes, each handed out once."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts
        self._next = 0

    def take(self, count: int) -> list[str]:
        if self._next + count > len(self._texts):
            raise SystemExit("not enough coupons seeded: raise --max-rps or lower --rounds")
        taken = list(self._texts[self._next : self._next + count])
        self._next += count
        return taken


# Saturation: wrk ------------------------------------------------------------------------------


@dataclass
class Saturation:
    rps: float
    p50_ms: float
    p95_ms: float
    statuses: Counter[int]
    errors: dict[str, int]


def saturate(
    server: Server, token: str, texts: list[str], *, connections: int, threads: int, seconds: int
) -> Saturation:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as codes_file:
        codes_file.writelines(f"{text} {uuid.uuid4()}\n" for text in texts)
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                f"http://127.0.0.1:{server.port}",
                "--",
                codes_file.name,
                server.path,
                token,
                str(threads),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(codes_file.name)
    line = next((row for row in completed.stdout.splitlines() if row.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    values = {k: int(v) for k, v in (part.split("=") for part in line.split()[1:])}
    if values["exhausted"]:
        raise SystemExit(
            f"{server.name}: wrk ran out of codes ({values['exhausted']} requests reused one): "
            "raise --max-rps"
        )
    statuses = Counter(
        {int(k.removeprefix("status_")): v for k, v in values.items() if k.startswith("status_")}
    )
    errors = {
        k.removeprefix("errors_"): v for k, v in values.items() if k.startswith("errors_") and v
    }
    return Saturation(
        rps=values["requests"] / (values["duration_us"] / 1e6),
        p50_ms=values["p50_us"] / 1000,
        p95_ms=values["p95_us"] / 1000,
        statuses=statuses,
        errors=errors,
    )


# Fixed offered load: an open-loop client ------------------------------------------------------


@dataclass
class OpenLoop:
    offered_rps: float
    achieved_rps: float
    latencies_ms: list[float]
    statuses: Counter[int]
    max_lag_ms: float  # how late the client itself started a request (it must stay small)

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def http_request(server: Server, token: str, text: str) -> bytes:
    body = f'{{"code":"{text}","client_id":"{uuid.uuid4()}"}}'.encode()
    head = (
        f"POST {server.path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


async def _send(port: int, payload: bytes, timeout: float) -> int:
    """One request on its own connection; returns the HTTP status (0: no answer in time)."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(payload)
            status_line = await reader.readline()
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            return int(status_line.split()[1])
    except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
        return 0
    finally:
        if writer is not None:
            writer.close()


async def _open_loop(port: int, payloads: list[bytes], rate: float, timeout: float) -> OpenLoop:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lags: list[float] = []

    async def one(payload: bytes, scheduled: float) -> None:
        lags.append(loop.time() - scheduled)
        status = await _send(port, payload, timeout)
        # From the scheduled time, not from when the request could be sent.
        latencies.append((loop.time() - scheduled) * 1000)
        statuses[status] += 1

    start = loop.time() + 0.05
    tasks = []
    for index, payload in enumerate(payloads):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    return OpenLoop(
        offered_rps=rate,
        achieved_rps=len(payloads) / elapsed,
        latencies_ms=latencies,
        statuses=statuses,
        max_lag_ms=max(lags) * 1000,
    )


def open_loop(
    server: Server, token: str, texts: list[str], *, rate: float, timeout: float = 10.0
) -> OpenLoop:
    payloads = [http_request(server, token, text) for text in texts]
    return asyncio.run(_open_loop(server.port, payloads, rate, timeout))


# The run --------------------------------------------------------------------------------------


def fmt_statuses(statuses: Counter[int]) -> str:
    return ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(statuses.items()))


def alternate(servers: Sequence[Server], round_index: int) -> Iterator[Server]:
    return iter(servers if round_index % 2 == 0 else list(reversed(servers)))


def configured_workers() -> int:
    """The workers gunicorn.conf.py gives on this machine (WEB_CONCURRENCY, or 2 x cores + 1)."""
    import runpy

    conf = ROOT / "gunicorn.conf.py"
    return int(runpy.run_path(str(conf))["workers"]) if conf.exists() else 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/coupons")
    parser.add_argument(
        "--workers",
        type=int,
        default=configured_workers(),
        help="gunicorn workers, both servers (default: what gunicorn.conf.py says)",
    )
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/second")
    parser.add_argument("--open-duration", type=int, default=15, help="seconds of open loop")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--max-rps", type=int, default=2500, help="codes seeded per second of each wrk run"
    )
    parser.add_argument(
        "--qr",
        action="store_true",
        help="send ours the signed QR texts (the baseline still gets the manual codes)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (Debian package)")

    warm_up = 300
    per_round = args.max_rps * args.duration + int(args.rate * args.open_duration)
    coupon_count = 2 * (warm_up + args.rounds * per_round)

    url = bench_database_url(args.database_url)
    recreate_database(url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="false")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    # whitenoise warns once per worker that no collectstatic was run: the API needs none.
    os.environ.setdefault("PYTHONWARNINGS", "ignore:No directory at")
    started = time.perf_counter()
    token, texts = seed(coupon_count)
    qr_texts = seed_qr_texts(texts) if args.qr else None
    print(f"seeded {coupon_count} coupons in {time.perf_counter() - started:.0f} s")
    manual = Codes(texts)

    baseline = Server("baseline", "bench.baseline_app:application", BASELINE_PATH, "/redeem")
    ours = Server("ours", "config.wsgi:application", OURS_PATH, "/api/v1/health")
    servers = [baseline, ours]
    answered: Counter[int] = Counter()  # every status, 0 for no answer (ledger check)

    def codes_for(server: Server, count: int) -> list[str]:
        taken = manual.take(count)
        if server is ours and qr_texts is not None:
            return [qr_texts[text] for text in taken]
        return taken

    try:
        for server in servers:
            server.start(dict(os.environ), args.workers)
        load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
        print(
            f"PostgreSQL, gunicorn x{args.workers} workers each, {os.cpu_count()} cores "
            f"(load average before: {load}); "
            f"saturation: wrk {args.connections} connections, {args.duration} s; "
            f"fixed load: {args.rate:.0f} req/s open loop, {args.open_duration} s; "
            f"{args.rounds} rounds; ours gets {'QR texts' if args.qr else 'manual codes'}"
        )
        for server in servers:  # every worker imports, connects and warms its caches
            warm = open_loop(server, token, codes_for(server, warm_up), rate=100)
            answered.update(warm.statuses)
            server.settle()

        saturation: dict[str, list[Saturation]] = {s.name: [] for s in servers}
        fixed: dict[str, list[OpenLoop]] = {s.name: [] for s in servers}
        for round_index in range(args.rounds):
            for server in alternate(servers, round_index):
                result = saturate(
                    server,
                    token,
                    codes_for(server, args.max_rps * args.duration),
                    connections=args.connections,
                    threads=args.threads,
                    seconds=args.duration,
                )
                server.settle()
                saturation[server.name].append(result)
                answered.update(result.statuses)
                # Timed out, or still in flight when wrk stopped: maybe redeemed, never answered.
                answered[0] += sum(result.errors.values()) + args.connections
                print(
                    f"round {round_index + 1}  {server.name:<8} wrk    {result.rps:7.0f} req/s  "
                    f"p50 {result.p50_ms:6.1f} ms  p95 {result.p95_ms:6.1f} ms  "
                    f"[{fmt_statuses(result.statuses)}]"
                    + (f" errors {result.errors}" if result.errors else "")
                )
            for server in alternate(servers, round_index):
                loaded = open_loop(
                    server,
                    token,
                    codes_for(server, int(args.rate * args.open_duration)),
                    rate=args.rate,
                )
                server.settle()
                fixed[server.name].append(loaded)
                answered.update(loaded.statuses)
                print(
                    f"round {round_index + 1}  {server.name:<8} {args.rate:.0f}/s  "
                    f"{loaded.achieved_rps:7.0f} req/s  p50 {loaded.percentile(50):6.1f} ms  "
                    f"p95 {loaded.percentile(95):6.1f} ms  p99 {loaded.percentile(99):6.1f} ms  "
                    f"[{fmt_statuses(loaded.statuses)}]  client lag max "
                    f"{loaded.max_lag_ms:.1f} ms"
                )
    finally:
        for server in servers:
            server.stop()

    print(f"\nmedians over {args.rounds} rounds")
    base_rps = statistics.median(r.rps for r in saturation["baseline"])
    our_rps = statistics.median(r.rps for r in saturation["ours"])
    # Each round's two runs are seconds apart: their ratio is the least disturbed by whatever
    # else the machine does; the median of those ratios is the figure.
    pairs = zip(saturation["baseline"], saturation["ours"], strict=True)
    ratios = [ours_run.rps / base_run.rps for base_run, ours_run in pairs]
    ratio = statistics.median(ratios)
    for name, rps in (("baseline", base_rps), ("ours", our_rps)):
        spread = [f"{r.rps:.0f}" for r in saturation[name]]
        print(f"saturation  {name:<8} {rps:7.0f} req/s   (rounds: {', '.join(spread)})")
    print(
        f"ratio       ours / baseline = {ratio:.2f}   "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )
    for name in ("baseline", "ours"):
        p50 = statistics.median(r.percentile(50) for r in fixed[name])
        p95 = statistics.median(r.percentile(95) for r in fixed[name])
        line = f"{args.rate:.0f} req/s  {name:<8} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms"
        if name == "ours":
            met = "met" if p95 < TARGET_P95_MS else "NOT met"
            line += f"   (target p95 < {TARGET_P95_MS:.0f} ms: {met})"
        print(line)
    for name in ("baseline", "ours"):
        total: Counter[int] = Counter()
        for r in saturation[name]:
            total.update(r.statuses)
        for o in fixed[name]:
            total.update(o.statuses)
        verdict = "all 201" if set(total) == {201} else "NOT all 201"
        print(f"statuses    {name:<8} {fmt_statuses(total)}   ({verdict})")
    print(ledger_check(answered[201], answered[0]))


def seed_qr_texts(texts: list[str]) -> dict[str, str]:
    """The signed QR text of each manual code (signed by this process, as printing would)."""
    from coupons.models import Coupon
    from coupons.selectors import qr_text_for

    mapping = {c.code: qr_text_for(c) for c in Coupon.objects.iterator(chunk_size=5000)}
    from django.db import connection

    connection.close()
    return {text: mapping[text] for text in texts}


if __name__ == "__main__":
    main()
