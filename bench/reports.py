"""The funding and impact reports on a province-sized history, beside a raw-SQL baseline.

    python bench/reports.py [--database-url postgres://postgres@127.0.0.1:5432/coupons]
        [--households 20000] [--redemptions 1000000] [--markets 150] [--programs 10]
        [--runs 5] [--keep | --reuse] [--explain]

It creates a throw-away database (`<name>_reports_bench`), migrates it and seeds a season of the
whole network in SQL (`INSERT … SELECT … FROM generate_series`, not the ORM): `--programs`
programs in as many territories, of unequal sizes; `--markets` public markets and eight vendors
each; `--households` households of 1 to 8 people; their allotments (one batch each, plus bearer
batches of the partner organizations) of coupons that end up redeemed, outstanding, expired or
void; `--redemptions` redemption rows over the season (accepted, a few thousand double scans
honoured, refused or pending, mistaken scans undone) with product categories; monthly statements,
paid for past months; contributions, donations, sales and refunds in the funds ledger.

It then times, warm, the median of `--runs` runs of:

- `rapports.funding_report.funding_report` and `rapports.impact_report.impact_report` for the
  largest program (target: at most 1 s each) and for the whole network (at most 3 s each);
- a **baseline** for each: one hand-written SQL query computing the same sums (run through
  `django.db.connection`, rows fetched), the floor PostgreSQL sets on the machine;

and prints "report, seconds, baseline seconds, ratio" (target: ratio < 2), with the queries each
report ran, and whether its sums agree with the baseline's. `--explain` prints each report
query's EXPLAIN ANALYZE. `--keep` keeps the database at the end; `--reuse` times a database that
an earlier `--keep` left (no seeding). Nothing is asserted by the tests: the figures are for
people to compare between commits on the same machine.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_PROGRAM_S = 1.0
TARGET_NETWORK_S = 3.0
TARGET_RATIO = 2.0
# Program sizes (shares of the households), largest first: a city, then rural MRCs.
PROGRAM_WEIGHTS = (0.22, 0.16, 0.13, 0.11, 0.09, 0.08, 0.07, 0.06, 0.05, 0.03)
VENDORS_PER_MARKET = 8
ORGANIZATIONS_PER_PROGRAM = 3
BEARER_COUPONS_PER_ORGANIZATION = 400
COUPON_VALUES = (Decimal("2.00"), Decimal("5.00"), Decimal("5.00"), Decimal("10.00"))
WEEKS = 16  # weekly distributions, as in Portneuf
VALIDITY_DAYS = 42
VOID_SHARE = 0.015
CONFLICTS = 3000  # double scans: a third honoured, a third refused, a third still pending


# The database ---------------------------------------------------------------------------------


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "coupons") + "_reports_bench"
    return urlunsplit(parts._replace(path="/" + name))


def _admin_connection(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    )


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(url: str) -> bool:
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection(url) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        return found is not None


# Seeding --------------------------------------------------------------------------------------


def insert_select(
    cursor: Any, model: Any, columns: Mapping[str, str], rest: str, params: Sequence[Any] = ()
) -> int:
    """`INSERT INTO <model's table> (<columns>) SELECT <expressions> <rest>`: each given column is
    an SQL expression over `rest` (its FROM, WHERE…); every other concrete column gets its
    field's default, so that a column added to a model later needs no change here. Returns the
    number of rows inserted."""
    from django.db import connection
    from django.db.models import AutoField, DateTimeField
    from django.utils import timezone

    names = list(columns)
    expressions = [columns[name] for name in names]
    for field in model._meta.concrete_fields:
        if field.column in columns or isinstance(field, AutoField):
            continue
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
            value: Any = timezone.now()
        elif field.has_default() or field.null or field.empty_strings_allowed:
            value = field.get_default()
        else:
            raise SystemExit(f"bench/reports.py: no value for {model.__name__}.{field.name}")
        if value is None and not field.null:
            raise SystemExit(f"bench/reports.py: no value for {model.__name__}.{field.name}")
        names.append(field.column)
        # The default as a literal (quoted by psycopg), typed as the column is.
        prepared = field.get_db_prep_save(value, connection)
        literal: str = connection.ops.compose_sql("%s", [prepared])  # type: ignore[attr-defined]
        expressions.append(f"CAST({literal.replace('%', '%%')} AS {field.db_type(connection)})")
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    sql = f"INSERT INTO {model._meta.db_table} ({quoted}) SELECT {', '.join(expressions)} {rest}"
    started = time.perf_counter()
    cursor.execute(sql, list(params))
    timed_step(model.__name__, started)
    return int(cursor.rowcount)


SEED_SECONDS: dict[str, float] = {}


def timed_step(name: str, started: float) -> None:
    SEED_SECONDS[name] = SEED_SECONDS.get(name, 0.0) + time.perf_counter() - started


def drop_plain_indexes(cursor: Any, tables: Sequence[str]) -> list[str]:
    """Drops the indexes of `tables` that back no constraint (built again, at once, after the
    bulk inserts: much faster than row by row) and returns their definitions."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(tables)],
    )
    found = cursor.fetchall()
    for name, _definition in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in found]


def seed(args: argparse.Namespace) -> dict[str, int]:
    """The network's season; returns the row counts of the large tables."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from beneficiaires.models import Household, Organization, Partnership
    from comptes.models import User
    from coupons.models import Coupon, IssuanceBatch
    from financement.models import Contribution, Donation, Funder, LedgerEntry
    from marches.models import Market, Redemption, Statement, Vendor
    from programmes.models import ProductCategory, Program, Territory

    today = timezone.localdate()
    season_start = today - datetime.timedelta(weeks=WEEKS - 1)
    season_end = today + datetime.timedelta(days=VALIDITY_DAYS - 1)
    user = User.objects.create_user("bench@example.org", "bench-password-2026")
    categories = list(ProductCategory.objects.order_by("pk").values_list("pk", flat=True))
    if not categories:
        raise SystemExit("no product categories: the migrations seed them")

    # The small tables, through the ORM.
    count = min(args.programs, len(PROGRAM_WEIGHTS))
    weights = PROGRAM_WEIGHTS[:count]
    territories = Territory.objects.bulk_create(
        Territory(name=f"MRC no {i + 1:02d}") for i in range(count)
    )
    programs = Program.objects.bulk_create(
        Program(
            territory=territory,
            name=f"Programme de coupons nourriciers no {i + 1:02d}",
            slug=f"programme-{i + 1:02d}",
            serial_prefix=f"P{i + 1:02d}",
            season_start=season_start,
            season_end=season_end,
            distribution_count=WEEKS,
            coupon_validity_days=VALIDITY_DAYS,
        )
        for i, territory in enumerate(territories)
    )
    for program in programs:
        program.categories.set(categories)
    organizations = Organization.objects.bulk_create(
        Organization(name=f"Organisme {p.pk}-{k}", slug=f"organisme-{p.pk}-{k}")
        for p in programs
        for k in range(ORGANIZATIONS_PER_PROGRAM)
    )
    Partnership.objects.bulk_create(
        Partnership(organization=o, program=programs[i // ORGANIZATIONS_PER_PROGRAM])
        for i, o in enumerate(organizations)
    )
    markets = Market.objects.bulk_create(
        Market(name=f"Marché public no {i + 1:03d}", slug=f"marche-{i + 1:03d}", city="Québec")
        for i in range(args.markets)
    )
    # Each market takes its territory's program; one in ten also takes the next program's.
    through = Market.programs.through
    links = []
    for i, market in enumerate(markets):
        home = programs[i % count]
        links.append(through(market_id=market.pk, program_id=home.pk))
        if i % 10 == 0 and count > 1:
            links.append(through(market_id=market.pk, program_id=programs[(i + 1) % count].pk))
    through.objects.bulk_create(links)
    vendors = Vendor.objects.bulk_create(
        Vendor(name=f"Ferme {m.pk}-{k}", slug=f"ferme-{m.pk}-{k}")
        for m in markets
        for k in range(VENDORS_PER_MARKET)
    )
    vendor_links = Vendor.markets.through
    vendor_links.objects.bulk_create(
        vendor_links(vendor_id=v.pk, market_id=markets[i // VENDORS_PER_MARKET].pk)
        for i, v in enumerate(vendors)
    )

    per_household = math.ceil(args.redemptions / 0.78 / args.households)
    values = [COUPON_VALUES[n % len(COUPON_VALUES)] for n in range(per_household)]
    value_case = (
        "CASE n %% 4 "
        + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(COUPON_VALUES))
        + " END"
    )
    tz = timezone.get_current_timezone_name()
    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        # Every row is made from rows already there: the foreign-key triggers (a deferred check
        # per row and key, a minute for these tables) are switched off while seeding.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        indexes = drop_plain_indexes(cursor, ["coupons_coupon", "marches_redemption"])

        # Households, of unequal programs; 1 to 3 adults, 0 to 5 children.
        counts["households"] = 0
        for i, program in enumerate(programs):
            size = round(args.households * weights[i] / sum(weights))
            counts["households"] += insert_select(
                cursor,
                Household,
                {
                    "program_id": "%s",
                    "organization_id": f"(SELECT id FROM beneficiaires_organization "
                    f"WHERE slug = 'organisme-{program.pk}-' || (g %% 3))",
                    "reference": "'M-' || lpad(g::text, 6, '0')",
                    "adults": "1 + floor(random() * random() * 3)::int",
                    "children": "floor(random() * random() * 6)::int",
                    "postal_code": "'G0A 1A0'",
                    "enrolled_by_id": "%s",
                    "enrolled_at": "%s::timestamptz - interval '20 days' * random()",
                },
                "FROM generate_series(1, %s) AS g",
                [program.pk, user.pk, timezone.now() - datetime.timedelta(weeks=WEEKS), size],
            )

        # One allotment batch per household, and one bearer batch per organization.
        counts["batches"] = insert_select(
            cursor,
            IssuanceBatch,
            {
                "program_id": "h.program_id",
                "kind": "'household'",
                "household_id": "h.id",
                "organization_id": "h.organization_id",
                "issued_by_id": "%s",
                "issued_at": "h.enrolled_at",
                "idempotency_key": "md5('batch' || h.id)::uuid",
                "coupon_count": "%s",
                "total_value": "%s",
            },
            "FROM beneficiaires_household h",
            [user.pk, per_household, sum(values)],
        )
        bearer = BEARER_COUPONS_PER_ORGANIZATION
        bearer_value = sum(COUPON_VALUES[n % len(COUPON_VALUES)] for n in range(bearer))
        counts["batches"] += insert_select(
            cursor,
            IssuanceBatch,
            {
                "program_id": "p.program_id",
                "kind": "'bearer'",
                "organization_id": "p.organization_id",
                "issued_by_id": "%s",
                "issued_at": "%s",
                "idempotency_key": "md5('bearer' || p.id)::uuid",
                "coupon_count": "%s",
                "total_value": "%s",
            },
            "FROM beneficiaires_partnership p",
            [user.pk, timezone.now() - datetime.timedelta(weeks=WEEKS), bearer, bearer_value],
        )

        # The coupons: weekly distributions, each valid VALIDITY_DAYS; a coupon is void,
        # redeemed (between its first valid day and now) or still issued (outstanding, or
        # expired once its last valid day has passed).
        total = counts["households"] * per_household + len(organizations) * bearer
        redeemed_share = 0.985 * args.redemptions / total
        counts["coupons"] = insert_select(
            cursor,
            Coupon,
            {
                "program_id": "program_id",
                "batch_id": "batch_id",
                "household_id": "household_id",
                "serial": "prefix || '-' || batch_id || '-' || n",
                "code": "upper(substr(md5('code' || batch_id || '-' || n), 1, 14))",
                "value": value_case,
                "distribution": "1 + n %% %s",
                "valid_from": "valid_from",
                "valid_until": "least(valid_from + %s, %s::date)",
                "status": "CASE WHEN r < %s THEN 'void' WHEN r < %s THEN 'redeemed' "
                "ELSE 'issued' END",
                "redeemed_at": "CASE WHEN r >= %s AND r < %s THEN least(now(), "
                "(valid_from + interval '9 hours' + interval '8 hours' * random() "
                "+ interval '1 day' * floor(random() * (least(valid_from + %s, %s::date) "
                "- valid_from + 1))) AT TIME ZONE %s) END",
                "voided_at": "CASE WHEN r < %s THEN (valid_from + 1) AT TIME ZONE %s END",
                "void_reason": "CASE WHEN r < %s THEN 'lost' ELSE '' END",
            },
            "FROM (SELECT b.program_id, b.id AS batch_id, b.household_id, p.serial_prefix "
            "AS prefix, n, %s::date + 7 * (n %% %s) AS valid_from, random() AS r "
            "FROM coupons_issuancebatch b JOIN programmes_program p ON p.id = b.program_id "
            "CROSS JOIN LATERAL generate_series(0, b.coupon_count - 1) AS n) AS c",
            [
                WEEKS,
                VALIDITY_DAYS - 1,
                season_end,
                VOID_SHARE,
                VOID_SHARE + redeemed_share,
                VOID_SHARE,
                VOID_SHARE + redeemed_share,
                VALIDITY_DAYS - 1,
                today,
                tz,
                VOID_SHARE,
                tz,
                VOID_SHARE,
                season_start,
                WEEKS,
            ],
        )
        # A coupon redeemed today may not have been redeemed "later today".
        cursor.execute(
            "UPDATE coupons_coupon SET redeemed_at = now() - interval '1 minute' "
            "WHERE redeemed_at > now() - interval '1 minute'"
        )

        # Where each program's coupons are spent: the markets that take it, their vendors.
        cursor.execute(
            "CREATE TEMP TABLE pm AS SELECT program_id, market_id, row_number() OVER "
            "(PARTITION BY program_id ORDER BY market_id) - 1 AS k, count(*) OVER "
            "(PARTITION BY program_id) AS n FROM marches_market_programs"
        )
        cursor.execute(
            "CREATE TEMP TABLE mv AS SELECT market_id, vendor_id, row_number() OVER "
            "(PARTITION BY market_id ORDER BY vendor_id) - 1 AS k, count(*) OVER "
            "(PARTITION BY market_id) AS n FROM marches_vendor_markets"
        )
        cursor.execute("CREATE TEMP TABLE pn AS SELECT DISTINCT program_id, n FROM pm")
        cursor.execute("CREATE TEMP TABLE mn AS SELECT DISTINCT market_id, n FROM mv")
        category_array = "ARRAY[" + ",".join(str(pk) for pk in categories) + "]"
        # Accepted scans (one per redeemed coupon) in a scratch table first: the statements
        # are made from it, then every row goes in once with its statement.
        spend = (
            "FROM coupons_coupon c "
            "JOIN pn ON pn.program_id = c.program_id "
            "JOIN pm ON pm.program_id = c.program_id AND pm.k = (c.id * {a}) %% pn.n "
            "JOIN mn ON mn.market_id = pm.market_id "
            "JOIN mv ON mv.market_id = pm.market_id AND mv.k = (c.id * {b} / 7) %% mn.n "
        )
        cursor.execute(
            "CREATE TEMP TABLE scans AS SELECT c.id AS coupon_id, c.program_id, c.household_id, "
            "mv.vendor_id, "
            "pm.market_id, CASE WHEN random() < 0.1 THEN NULL ELSE "
            f"({category_array})[1 + (c.id * 31) %% {len(categories)}] END AS category_id, "
            "c.value, c.redeemed_at AS scanned_at, random() < 0.05 AS offline "
            + spend.format(a=7919, b=104729)
            + "WHERE c.status = 'redeemed'",
            [],
        )
        # Monthly statements of each program and vendor: paid for the months before the last
        # two, approved for the one before this month; this month's scans are on none yet.
        month = today.replace(day=1)
        previous = (month - datetime.timedelta(days=1)).replace(day=1)
        cursor.execute(
            "CREATE TEMP TABLE periods AS SELECT program_id, vendor_id, date_trunc('month', "
            "scanned_at AT TIME ZONE %s)::date AS period_start, sum(value) AS total, count(*) "
            "AS n FROM scans WHERE (scanned_at AT TIME ZONE %s)::date < %s GROUP BY 1, 2, 3",
            [tz, tz, month],
        )
        counts["statements"] = insert_select(
            cursor,
            Statement,
            {
                "program_id": "program_id",
                "vendor_id": "vendor_id",
                "period_start": "period_start",
                "period_end": "(period_start + interval '1 month' - interval '1 day')::date",
                "status": "CASE WHEN period_start < %s THEN 'paid' ELSE 'approved' END",
                "total": "total",
                "redemption_count": "n",
                "payout": "'dollars'",
                "created_by_id": "%s",
                "approved_by_id": "%s",
                "approved_at": "(period_start + interval '1 month' + interval '3 days')",
                "paid_by_id": "CASE WHEN period_start < %s THEN %s END",
                "paid_at": "CASE WHEN period_start < %s THEN "
                "period_start + interval '1 month' + interval '10 days' END",
                "paid_reference": "CASE WHEN period_start < %s THEN 'VIR-' || vendor_id || '-' "
                "|| to_char(period_start, 'YYYYMM') ELSE '' END",
            },
            "FROM periods",
            [previous, user.pk, user.pk, previous, user.pk, previous, previous],
        )
        counts["redemptions"] = insert_select(
            cursor,
            Redemption,
            {
                "coupon_id": "s.coupon_id",
                "program_id": "s.program_id",
                "household_id": "s.household_id",
                "vendor_id": "s.vendor_id",
                "market_id": "s.market_id",
                "category_id": "s.category_id",
                "client_id": "md5('scan' || s.coupon_id)::uuid",
                "value": "s.value",
                "status": "'accepted'",
                "offline": "s.offline",
                "scanned_at": "s.scanned_at",
                "recorded_at": "s.scanned_at + CASE WHEN s.offline THEN interval '2 hours' "
                "ELSE interval '1 second' END",
                "statement_id": "st.id",
            },
            "FROM scans s LEFT JOIN marches_statement st ON st.program_id = s.program_id "
            "AND st.vendor_id = s.vendor_id "
            "AND st.period_start = date_trunc('month', s.scanned_at AT TIME ZONE %s)::date",
            [tz],
        )
        # Double scans of redeemed coupons (by another vendor, offline), decided or not; then
        # mistaken scans undone at once (their coupon went back to issued) up to the total.
        extra = max(0, args.redemptions - counts["redemptions"])
        conflicts = min(CONFLICTS, extra // 3)
        counts["redemptions"] += insert_select(
            cursor,
            Redemption,
            {
                "coupon_id": "c.id",
                "program_id": "c.program_id",
                "household_id": "c.household_id",
                "vendor_id": "mv.vendor_id",
                "market_id": "pm.market_id",
                "client_id": "md5('double' || c.id)::uuid",
                "value": "c.value",
                "status": "(ARRAY['honoured', 'refused', 'conflict'])[1 + c.id %% 3]",
                "offline": "true",
                "scanned_at": "c.redeemed_at + interval '1 hour'",
                "recorded_at": "c.redeemed_at + interval '3 hours'",
                "decided_at": "CASE WHEN c.id %% 3 < 2 THEN c.redeemed_at + interval '2 days' END",
                "decided_by_id": "CASE WHEN c.id %% 3 < 2 THEN %s END",
                "decision_reason": "CASE WHEN c.id %% 3 < 2 THEN 'Vérifié avec le marché' "
                "ELSE '' END",
            },
            spend.format(a=13, b=17) + "WHERE c.status = 'redeemed' "
            "AND c.redeemed_at < now() - interval '1 day' ORDER BY c.id * 2654435761 %% 1000003 "
            "LIMIT %s",
            [user.pk, conflicts],
        )
        counts["redemptions"] += insert_select(
            cursor,
            Redemption,
            {
                "coupon_id": "c.id",
                "program_id": "c.program_id",
                "household_id": "c.household_id",
                "vendor_id": "mv.vendor_id",
                "market_id": "pm.market_id",
                "client_id": "md5('undone' || c.id)::uuid",
                "value": "c.value",
                "status": "'undone'",
                "scanned_at": "least(now(), c.valid_from + interval '12 hours')",
                "recorded_at": "least(now(), c.valid_from + interval '12 hours')",
                "decided_at": "least(now(), c.valid_from + interval '12 hours')",
                "decision_reason": "'Erreur de scan'",
            },
            spend.format(a=7919, b=104729) + "WHERE c.status = 'issued' "
            "ORDER BY c.id * 2654435761 %% 1000003 LIMIT %s",
            [extra - conflicts],
        )

        # The funds ledger: contributions of the funders (a little more than what was issued),
        # then online donations, sales and a few refunds.
        funders = Funder.objects.bulk_create(
            Funder(name=name, kind=kind)
            for name, kind in (
                ("Ministère de l'Agriculture", Funder.Kind.GOVERNMENT),
                ("Ministère de la Santé", Funder.Kind.GOVERNMENT),
                ("Fondation Lucie-et-André-Chagnon", Funder.Kind.FOUNDATION),
                ("Centraide", Funder.Kind.COMMUNITY),
                ("Desjardins", Funder.Kind.BUSINESS),
                ("Ville", Funder.Kind.MUNICIPAL),
            )
        )
        cursor.execute(
            "SELECT program_id, sum(value) FROM coupons_coupon GROUP BY program_id ORDER BY 1"
        )
        issued = dict(cursor.fetchall())
        contributions = []
        for i, program in enumerate(programs):
            share = quantize(issued.get(program.pk, Decimal(0)) * Decimal("1.05") / 3)
            for k in range(3):
                contributions.append(
                    Contribution(
                        program=program,
                        funder=funders[(i + k) % len(funders)],
                        amount=share,
                        received_on=season_start - datetime.timedelta(days=30 - k),
                        recorded_by=user,
                    )
                )
        Contribution.objects.bulk_create(contributions)
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                program_id=c.program_id,
                kind=LedgerEntry.Kind.CONTRIBUTION,
                amount=c.amount,
                contribution=c,
                recorded_by=user,
            )
            for c in contributions
        )
        counts["donations"] = insert_select(
            cursor,
            Donation,
            {
                "program_id": "p.id",
                "amount": "(20 + 5 * floor(random() * 17))::numeric(12, 2)",
                "donor_name": "'Donateur ' || g",
                "donor_email": "'don' || g || '@example.org'",
                "status": "'paid'",
                "checkout_session_id": "'cs_bench_' || p.id || '_' || g",
                "payment_intent_id": "'pi_bench_' || p.id || '_' || g",
            },
            "FROM programmes_program p CROSS JOIN generate_series(1, 300) AS g",
        )
        counts["ledger"] = len(contributions) + insert_select(
            cursor,
            LedgerEntry,
            {
                "program_id": "d.program_id",
                "kind": "'donation'",
                "amount": "d.amount",
                "donation_id": "d.id",
                "source": "'donation:' || d.id",
                "stripe_reference": "d.payment_intent_id",
            },
            "FROM financement_donation d",
        )
        counts["ledger"] += insert_select(
            cursor,
            LedgerEntry,
            {
                "program_id": "p.id",
                "kind": "CASE WHEN g %% 25 = 0 THEN 'refund' ELSE 'sale' END",
                "amount": "CASE WHEN g %% 25 = 0 THEN -20.00 ELSE 20.00 END",
                "source": "'sale:' || p.id || '-' || g",
                "at": "%s::timestamptz + interval '1 hour' * g",
            },
            "FROM programmes_program p CROSS JOIN generate_series(1, 500) AS g",
            [timezone.now() - datetime.timedelta(weeks=WEEKS)],
        )
        for table in ("pm", "mv", "pn", "mn", "scans", "periods"):
            cursor.execute(f"DROP TABLE {table}")
        # Anything still deferred is checked now, so that the tables may be indexed.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = time.perf_counter()
        for definition in indexes:
            cursor.execute(definition)
        timed_step("indexes", started)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timed_step("vacuum analyze", started)
    return counts


def quantize(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# The baselines: the same sums, one hand-written query each ------------------------------------

# Every program's ledger by kind, coupons by status and redemptions by reimbursement (grouped by
# program, as the report does), and the contributions by funder: one statement.
FUNDING_SQL = """
WITH p AS (SELECT id FROM programmes_program WHERE %(all)s OR id = %(program)s),
ledger AS (
    SELECT program_id, kind, count(*) AS n, sum(amount) AS v
    FROM financement_ledgerentry WHERE program_id IN (SELECT id FROM p) GROUP BY 1, 2
),
coupons AS (
    SELECT program_id,
        count(*) FILTER (WHERE status <> 'void') AS issued_n,
        sum(value) FILTER (WHERE status <> 'void') AS issued_v,
        count(*) FILTER (WHERE status = 'issued' AND valid_until >= %(today)s) AS outstanding_n,
        sum(value) FILTER (WHERE status = 'issued' AND valid_until >= %(today)s) AS outstanding_v,
        count(*) FILTER (WHERE status = 'redeemed') AS redeemed_n,
        sum(value) FILTER (WHERE status = 'redeemed') AS redeemed_v,
        count(*) FILTER (WHERE status = 'issued' AND valid_until < %(today)s) AS expired_n,
        sum(value) FILTER (WHERE status = 'issued' AND valid_until < %(today)s) AS expired_v,
        count(*) FILTER (WHERE status = 'void') AS void_n,
        sum(value) FILTER (WHERE status = 'void') AS void_v
    FROM coupons_coupon WHERE program_id IN (SELECT id FROM p) GROUP BY 1
),
redemptions AS (
    SELECT r.program_id,
        count(*) FILTER (WHERE r.status IN ('accepted', 'honoured') AND s.status = 'paid')
            AS reimbursed_n,
        sum(r.value) FILTER (WHERE r.status IN ('accepted', 'honoured') AND s.status = 'paid')
            AS reimbursed_v,
        count(*) FILTER (WHERE r.status IN ('accepted', 'honoured')
            AND s.status IS DISTINCT FROM 'paid') AS awaiting_n,
        sum(r.value) FILTER (WHERE r.status IN ('accepted', 'honoured')
            AND s.status IS DISTINCT FROM 'paid') AS awaiting_v,
        count(*) FILTER (WHERE r.status = 'honoured') AS honoured_n,
        sum(r.value) FILTER (WHERE r.status = 'honoured') AS honoured_v
    FROM marches_redemption r LEFT JOIN marches_statement s ON s.id = r.statement_id
    WHERE r.program_id IN (SELECT id FROM p) GROUP BY 1
),
funders AS (
    SELECT f.name, f.kind, count(*) AS n, sum(k.amount) AS v
    FROM financement_contribution k JOIN financement_funder f ON f.id = k.funder_id
    WHERE k.program_id IN (SELECT id FROM p) GROUP BY 1, 2
)
SELECT
    (SELECT json_agg(json_build_object('name', pr.name, 'slug', pr.slug, 'territory', t.name))
        FROM programmes_program pr JOIN programmes_territory t ON t.id = pr.territory_id
        WHERE pr.id IN (SELECT id FROM p)),
    (SELECT json_agg(ledger) FROM ledger),
    (SELECT json_agg(coupons) FROM coupons),
    (SELECT json_agg(redemptions) FROM redemptions),
    (SELECT json_agg(funders) FROM funders)
"""

# Households reached by size, the coupon totals, money spent (in all, by market, by week, by
# category, in one pass with grouping sets) and the households that came back: one statement.
IMPACT_SQL = """
WITH p AS (SELECT id FROM programmes_program WHERE %(all)s OR id = %(program)s),
households AS (
    SELECT least(h.adults + h.children, 5) AS bucket, count(*) AS n,
        sum(h.adults + h.children) AS people, count(*) FILTER (WHERE h.children > 0) AS children
    FROM beneficiaires_household h
    WHERE h.program_id IN (SELECT id FROM p) AND EXISTS (
        SELECT 1 FROM coupons_coupon c WHERE c.household_id = h.id AND c.status <> 'void')
    GROUP BY 1
),
coupons AS (
    SELECT count(*) FILTER (WHERE status <> 'void') AS issued_n,
        sum(value) FILTER (WHERE status <> 'void') AS issued_v,
        count(*) FILTER (WHERE status = 'redeemed') AS redeemed_n,
        sum(value) FILTER (WHERE status = 'redeemed') AS redeemed_v,
        count(*) FILTER (WHERE status = 'issued' AND valid_until >= %(today)s) AS outstanding_n,
        sum(value) FILTER (WHERE status = 'issued' AND valid_until >= %(today)s) AS outstanding_v,
        count(*) FILTER (WHERE status = 'issued' AND valid_until < %(today)s) AS expired_n,
        sum(value) FILTER (WHERE status = 'issued' AND valid_until < %(today)s) AS expired_v,
        count(*) FILTER (WHERE status = 'void') AS void_n,
        sum(value) FILTER (WHERE status = 'void') AS void_v
    FROM coupons_coupon WHERE program_id IN (SELECT id FROM p)
),
spent AS MATERIALIZED (
    SELECT r.market_id, r.vendor_id, r.category_id, r.value, r.household_id,
        date_trunc('week', r.scanned_at AT TIME ZONE %(tz)s)::date AS week
    FROM marches_redemption r
    WHERE r.program_id IN (SELECT id FROM p) AND r.status IN ('accepted', 'honoured')
),
sums AS (
    SELECT GROUPING(market_id) AS by_market, GROUPING(week) AS by_week,
        GROUPING(category_id) AS by_category, market_id, week, category_id,
        count(*) AS n, sum(value) AS v
    FROM spent GROUP BY GROUPING SETS ((), (market_id), (week), (category_id))
),
totals AS (
    SELECT count(DISTINCT vendor_id) AS vendors, count(DISTINCT market_id) AS markets FROM spent
),
comeback AS (
    SELECT count(*) FILTER (WHERE weeks >= 2) AS repeat, count(*) FILTER (WHERE weeks >= 4)
        AS loyal
    FROM (SELECT household_id, count(DISTINCT week) AS weeks FROM spent
        WHERE household_id IS NOT NULL GROUP BY 1) AS w
)
SELECT
    (SELECT json_agg(households) FROM households),
    (SELECT row_to_json(coupons) FROM coupons),
    (SELECT json_agg(json_build_object('market', m.slug, 'name', m.name, 'week', s.week,
        'category', k.slug, 'name_fr', k.name_fr, 'name_en', k.name_en, 'n', s.n, 'v', s.v,
        'by_market', s.by_market, 'by_week', s.by_week, 'by_category', s.by_category))
        FROM sums s LEFT JOIN marches_market m ON m.id = s.market_id
        LEFT JOIN programmes_productcategory k ON k.id = s.category_id),
    (SELECT row_to_json(totals) FROM totals),
    (SELECT row_to_json(comeback) FROM comeback)
"""


def run_baseline(sql: str, program_id: int | None, today: datetime.date) -> tuple[Any, ...]:
    from django.db import connection
    from django.utils import timezone

    params: dict[str, Any] = {
        "all": program_id is None,
        "program": program_id or 0,
        "today": today,
        "tz": timezone.get_current_timezone_name(),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())


# Timing ---------------------------------------------------------------------------------------


def timed(function: Callable[[], Any], runs: int) -> tuple[float, Any, int]:
    """Median seconds of `runs` warm runs (one more, first, to warm up), the last result and
    the number of queries one run made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    function()
    seconds = []
    result = None
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = function()
            seconds.append(time.perf_counter() - started)
        queries = len(captured.captured_queries)
    return statistics.median(seconds), result, queries


def explain(function: Callable[[], Any]) -> None:
    """EXPLAIN ANALYZE of every query `function` runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()
    for query in captured.captured_queries:
        sql = query["sql"]
        print(f"\n--- {float(query['time']) * 1000:.0f} ms: {sql[:300]}")
        with connection.cursor() as cursor:
            # The captured text has its parameters inlined by psycopg (server-side values).
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            for (line,) in cursor.fetchall():
                print("    " + line)


def agreement(name: str, report: Any, base: tuple[Any, ...]) -> str:
    """Whether the report's headline sums equal the baseline's."""
    if name == "funding":
        coupons = base[2] or []
        redeemed = sum((Decimal(str(row["redeemed_v"] or 0)) for row in coupons), Decimal(0))
        ledger = sum((Decimal(str(row["v"])) for row in base[1] or []), Decimal(0))
        ours: tuple[Any, ...] = (report.totals.redeemed.value, report.totals.funds.value)
        theirs: tuple[Any, ...] = (quantize(redeemed), quantize(ledger))
    else:
        rows = base[2] or []
        total = next(
            (r for r in rows if r["by_market"] and r["by_week"] and r["by_category"]), None
        )
        spent = quantize(Decimal(str(total["v"]))) if total else Decimal("0.00")
        households = sum(row["n"] for row in base[0] or [])
        ours = (report.spent_local.value, report.households, report.repeat_households)
        theirs = (spent, households, (base[4] or {}).get("repeat"))
    return "sums agree" if ours == theirs else f"SUMS DIFFER: report {ours}, baseline {theirs}"


def measure(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.utils import timezone

    from programmes.models import Program
    from rapports.funding_report import funding_report, network_scope, program_scope
    from rapports.impact_report import impact_report

    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM marches_market), (SELECT count(*) FROM "
            "beneficiaires_household), (SELECT count(*) FROM coupons_coupon), (SELECT count(*) "
            "FROM marches_redemption), (SELECT count(*) FROM marches_statement), (SELECT "
            "count(*) FROM financement_ledgerentry), (SELECT program_id FROM coupons_coupon "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)"
        )
        markets, households, coupons, redemptions, statements, ledger, largest = cursor.fetchone()
    program = Program.objects.get(pk=largest)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM coupons_coupon WHERE program_id = %s), (SELECT "
            "count(*) FROM marches_redemption WHERE program_id = %s)",
            [largest, largest],
        )
        program_coupons, program_redemptions = cursor.fetchone()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    server_version: int = connection.pg_version  # type: ignore[attr-defined]
    print(
        f"PostgreSQL {server_version // 10000}, {os.cpu_count()} cores (load average "
        f"before: {load}); {markets} markets, {households:,} households, {coupons:,} coupons, "
        f"{redemptions:,} redemptions, {statements:,} statements, {ledger:,} ledger rows; "
        f"program {program.slug}: {program_coupons:,} coupons, {program_redemptions:,} "
        f"redemptions; median of {args.runs} warm runs"
    )

    scopes = {"program": program_scope(program), "network": network_scope()}
    cases = []
    for scope_name, scope in scopes.items():
        program_id = program.pk if scope_name == "program" else None
        for name, build, sql in (
            ("funding", funding_report, FUNDING_SQL),
            ("impact", impact_report, IMPACT_SQL),
        ):

            def report(build: Any = build, scope: Any = scope) -> Any:
                return build(scope.programs, scope=scope.scope, label=scope.label, today=today)

            def baseline(sql: str = sql, program_id: int | None = program_id) -> Any:
                return run_baseline(sql, program_id, today)

            cases.append((f"{name} {scope_name}", name, scope_name, report, baseline))

    print(f"\n{'report':<18} {'seconds':>8} {'baseline s':>10} {'ratio':>6}  queries  verdict")
    for label, name, scope_name, report, baseline in cases:
        if args.only and label not in args.only:
            continue
        if args.explain:
            print(f"\n=== {label}")
            explain(report)
        seconds, result, queries = timed(report, args.runs)
        base_seconds, base, _ = timed(baseline, args.runs)
        ratio = seconds / base_seconds if base_seconds else math.inf
        target = TARGET_PROGRAM_S if scope_name == "program" else TARGET_NETWORK_S
        verdict = (
            f"target <= {target:.0f} s: {'met' if seconds <= target else 'NOT met'}, "
            f"ratio < {TARGET_RATIO:.0f}: {'met' if ratio < TARGET_RATIO else 'NOT met'}; "
            f"{agreement(name, result, base)}"
        )
        print(
            f"{label:<18} {seconds:8.3f} {base_seconds:10.3f} {ratio:6.2f}  {queries:7d}  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/coupons")
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--redemptions", type=int, default=1_000_000)
    parser.add_argument("--markets", type=int, default=150)
    parser.add_argument("--programs", type=int, default=10, help=f"at most {len(PROGRAM_WEIGHTS)}")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (median)")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--keep", action="store_true", help="keep the database at the end")
    keep.add_argument(
        "--reuse", action="store_true", help="time the database a --keep left (no seeding)"
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each query")
    parser.add_argument(
        "--only", action="append", help='time only this report ("impact program"…), repeatable'
    )
    args = parser.parse_args()

    url = bench_database_url(args.database_url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="false")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    reuse = args.reuse and database_exists(url)
    if args.reuse and not reuse:
        print(f"{urlsplit(url).path.lstrip('/')} does not exist yet: seeding it (kept)")
    try:
        if reuse:
            import django

            django.setup()
        else:
            recreate_database(url)
            started = time.perf_counter()
            counts = seed(args)
            print(
                f"seeded in {time.perf_counter() - started:.0f} s: "
                + ", ".join(f"{n:,} {table}" for table, n in counts.items())
                + " ("
                + ", ".join(f"{name} {sec:.0f} s" for name, sec in SEED_SECONDS.items())
                + ")"
            )
        measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep or args.reuse):
            drop_database(url)


if __name__ == "__main__":
    main()
