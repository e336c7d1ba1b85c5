"""Redeeming coupons: a scan made online, a scanner's offline queue, conflicts and undo.

A scan is identified by the `client_id` its scanner made: the same scan sent again, in any
order and any number of times, gets the answer of the ledger as it stands and writes nothing.

Online, a coupon already redeemed is refused: the vendor gives nothing. Offline, the vendor has
already given the food when the scan reaches us, so a coupon scanned by two devices is never
refused after the fact: the first scan in `scanned_at` order (then `client_id`) is the accepted
redemption, every later one a `conflict` that a coordinator honours (a recorded loss) or refuses.
Whatever order the scans arrive in, the ledger ends the same: an earlier offline scan that
arrives late takes the acceptance over from a later one, unless that one is already on a
reimbursement statement.

Validity is judged on the day of the scan (`scanned_at`, at most 30 days old at the API), so a
coupon valid at the stall is not refused because the phone synced after it expired.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Field, Model, Value
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from comptes.models import User
from coupons import codes, signing
from coupons.keys import verify_qr_text
from coupons.models import Coupon
from coupons.selectors import CodeError, resolve_scanned_code
from marches.models import Device, Market, Redemption, ScanRejection, Vendor
from programmes.models import ProductCategory
from programmes.money import format_money

# A scan may say it happened a little in the future (a phone's clock drifts); beyond this the
# server's clock wins.
CLOCK_SKEW = datetime.timedelta(minutes=5)
# A vendor may undo a mistaken scan this long after it was recorded.
UNDO_WINDOW = datetime.timedelta(minutes=5)
MAX_BATCH = 500

ACCEPTED = "accepted"
REJECTED = "rejected"
VALID = "valid"
CONFLICT = "conflict"

# 422 for codes that are not (or no longer readable as) ours, 409 for coupons in a wrong state.
UNPROCESSABLE_REASONS = frozenset({"invalid_code", "bad_signature", "unknown_code"})


@dataclass(frozen=True)
class Verdict:
    """The answer to a scan, for the API and the scanner page alike."""

    status: str  # accepted | rejected | valid (a check that redeems nothing) | conflict
    reason: str | None = None
    coupon: Coupon | None = None
    redemption: Redemption | None = None
    context: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    @property
    def describes_coupon(self) -> bool:
        """Whether the answer may describe the coupon (serial, value): not to a market that
        does not take its program."""
        return self.coupon is not None and not (
            self.reason == "not_accepted_here" and "market" in self.context
        )

    @property
    def accepted(self) -> bool:
        return self.status in {ACCEPTED, VALID}

    @property
    def http_status(self) -> int:
        if self.status == ACCEPTED:
            return 201
        if self.status == VALID:
            return 200
        if self.status == CONFLICT:
            return 202  # recorded, for a coordinator to decide
        return 422 if self.reason in UNPROCESSABLE_REASONS else 409

    @property
    def title(self) -> str:
        """A few words for the big verdict box."""
        if self.status == CONFLICT:
            return _("Enregistré, à examiner")
        titles = {
            "accepted": _("Accepté"),
            "valid": _("Valide"),
            "already_redeemed": _("Déjà échangé"),
            "expired": _("Expiré"),
            "not_yet_valid": _("Pas encore valide"),
            "void": _("Annulé"),
            "not_accepted_here": _("Non accepté ici"),
            "invalid_code": _("Code abîmé"),
            "bad_signature": _("Pas un de nos coupons"),
            "unknown_code": _("Pas un de nos coupons"),
            "client_id_reused": _("Scan en double"),
            "conflict_refused": _("Refusé après examen"),
            "undone": _("Échange annulé"),
        }
        return titles.get(self.reason or self.status, _("Refusé"))

    @property
    def detail(self) -> str:
        """One sentence in the active language (the request's)."""
        c = self.context
        if self.status == ACCEPTED:
            if c.get("honoured"):
                return _("Scan en double honoré par la coordination : il vous sera remboursé.")
            return _("Coupon de {value} accepté. Remettez les produits.").format(
                value=_money(self.coupon.value if self.coupon else None)
            )
        if self.status == VALID:
            return _("Coupon de {value} valide : il n'a pas encore été échangé.").format(
                value=_money(self.coupon.value if self.coupon else None)
            )
        if self.status == CONFLICT:
            return _(
                "Ce coupon avait déjà été échangé ({when}). Votre échange hors ligne est "
                "enregistré : la coordination décidera s'il vous est remboursé."
            ).format(when=_where_and_when(c))
        message = _DETAILS.get(self.reason or "")
        return message(c) if message else _("Coupon refusé.")


def _money(value: Decimal | None) -> str:
    return _formatted_money(value, get_language())


@functools.lru_cache(maxsize=512)
def _formatted_money(value: Decimal | None, language: str | None) -> str:
    # Babel's formatting is a good part of an answer's time; coupons have few distinct values.
    return format_money(value, language=language)


def _where_and_when(c: dict[str, Any]) -> str:
    if not c.get("redeemed_at"):
        return _("par un autre appareil")
    if c.get("by_you"):
        return _("par vous, le {date} à {time}").format(
            date=_date(c["redeemed_at"]), time=_time(c["redeemed_at"])
        )
    return _("le {date} à {time}, {market}").format(
        date=_date(c["redeemed_at"]), time=_time(c["redeemed_at"]), market=c.get("market", "")
    )


def _already_redeemed_detail(c: dict[str, Any]) -> str:
    if c.get("by_you"):
        return _("Déjà échangé par vous à {time} (le {date}).").format(
            time=_time(c.get("redeemed_at")), date=_date(c.get("redeemed_at"))
        )
    return _("Déjà échangé par une autre entreprise le {date} à {time} — {market}.").format(
        date=_date(c.get("redeemed_at")),
        time=_time(c.get("redeemed_at")),
        market=c.get("market", ""),
    )


def _not_accepted_detail(c: dict[str, Any]) -> str:
    if c.get("category") and c.get("program"):
        return _("La catégorie « {category} » n'est pas admissible au programme {program}.").format(
            category=c["category"], program=c["program"]
        )
    if c.get("category"):
        return _("Catégorie de produits inconnue : « {category} ».").format(category=c["category"])
    return _("Les coupons du programme {program} ne sont pas acceptés ici ({market}).").format(
        program=c.get("program", ""), market=c.get("market", "")
    )


_DETAILS = {
    "already_redeemed": _already_redeemed_detail,
    "expired": lambda c: _("Ce coupon est expiré depuis le {date}.").format(
        date=_date(c.get("valid_until"))
    ),
    "not_yet_valid": lambda c: _(
        "Ce coupon n'est pas encore valide : utilisable à partir du {date}."
    ).format(date=_date(c.get("valid_from"))),
    "void": lambda c: _("Ce coupon a été annulé : il ne peut pas être accepté."),
    "not_accepted_here": _not_accepted_detail,
    "invalid_code": lambda c: _(
        "Code abîmé ou mal saisi : vérifiez les caractères du code manuel et réessayez."
    ),
    "bad_signature": lambda c: _(
        "Ce code QR n'est pas un coupon de nos programmes (signature invalide) : ne l'acceptez pas."
    ),
    "unknown_code": lambda c: _("Aucun coupon de nos programmes ne porte ce code."),
    "client_id_reused": lambda c: _("Cet identifiant de scan a déjà servi pour un autre code."),
    "conflict_refused": lambda c: _(
        "Scan en double refusé par la coordination : il ne sera pas remboursé. {reason}"
    ).format(reason=c.get("reason", "")),
    "undone": lambda c: _("Cet échange a été annulé : le coupon a été rendu."),
}


def _date(value: str | None) -> str:
    if not value:
        return ""
    parsed = datetime.datetime.fromisoformat(value)
    if isinstance(parsed, datetime.datetime) and parsed.tzinfo is not None:
        parsed = timezone.localtime(parsed)
    return formats.date_format(parsed, "DATE_FORMAT")


def _time(value: str | None) -> str:
    if not value:
        return ""
    return formats.time_format(
        timezone.localtime(datetime.datetime.fromisoformat(value)), "TIME_FORMAT"
    )


def _code_key(text: str) -> str:
    """The same key for a coupon's QR text and its manual code (without any database read)."""
    normalized = codes.normalize(text)
    if signing.is_qr_text(normalized):
        try:
            return verify_qr_text(normalized).code
        except signing.QRDecodeError:
            return normalized
    return normalized


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _verdict_of(redemption: Redemption, vendor: Vendor, *, replayed: bool) -> Verdict:
    """What a recorded scan means now for the vendor who made it."""
    coupon = redemption.coupon
    status = redemption.status
    if status == Redemption.Status.ACCEPTED:
        return Verdict(ACCEPTED, coupon=coupon, redemption=redemption, replayed=replayed)
    if status == Redemption.Status.HONOURED:
        return Verdict(
            ACCEPTED,
            coupon=coupon,
            redemption=redemption,
            context={"honoured": True},
            replayed=replayed,
        )
    if status == Redemption.Status.CONFLICT:
        return Verdict(
            CONFLICT,
            "in_review",
            coupon=coupon,
            redemption=redemption,
            context=_redeemed_context(coupon, vendor),
            replayed=replayed,
        )
    reason = "conflict_refused" if status == Redemption.Status.REFUSED else "undone"
    return Verdict(
        REJECTED,
        reason,
        coupon=coupon,
        redemption=redemption,
        context={"reason": redemption.decision_reason},
        replayed=replayed,
    )


def _replay(client_id: uuid.UUID, code_key: str, vendor: Vendor) -> Verdict | None:
    """The answer owed to this client_id if this scan was already received.

    A client_id is only ever replayed to the vendor that sent it: another vendor presenting it
    learns nothing about that scan. Almost every scan is new: one query probes both tables, and
    only a scan found there is read in full.
    """
    found = set(
        Redemption.objects.filter(client_id=client_id)
        .order_by()
        .values_list(Value("redemption", output_field=CharField()), flat=True)
        .union(
            ScanRejection.objects.filter(client_id=client_id)
            .order_by()
            .values_list(Value("rejection", output_field=CharField()), flat=True),
            all=True,
        )
    )
    if "redemption" in found:
        redemption = Redemption.objects.select_related("coupon__program", "vendor", "market").get(
            client_id=client_id
        )
        if redemption.vendor_id != vendor.pk or redemption.coupon.code != code_key:
            return Verdict(REJECTED, "client_id_reused", replayed=True)
        return _verdict_of(redemption, vendor, replayed=True)
    if "rejection" in found:
        rejection = ScanRejection.objects.select_related("coupon").get(client_id=client_id)
        if rejection.vendor_id != vendor.pk or rejection.code_hash != _hash(code_key):
            return Verdict(REJECTED, "client_id_reused", replayed=True)
        return Verdict(
            REJECTED,
            rejection.reason,
            coupon=rejection.coupon,
            context=rejection.context,
            replayed=True,
        )
    return None


def _redeemed_context(coupon: Coupon, vendor: Vendor | None = None) -> dict[str, Any]:
    redemption = (
        Redemption.objects.select_related("market", "vendor")
        .filter(coupon=coupon, status=Redemption.Status.ACCEPTED)
        .first()
    )
    if redemption is None:
        return {}
    return {
        "redeemed_at": redemption.scanned_at.isoformat(),
        "market": redemption.market.name,
        "by_you": vendor is not None and redemption.vendor_id == vendor.pk,
    }


def _refusal(
    coupon: Coupon,
    *,
    market: Market,
    category: ProductCategory | None,
    day: datetime.date,
    vendor: Vendor | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Why this coupon cannot be accepted here on `day`, or None. Order: what the vendor most
    needs to know first."""
    program = coupon.program
    # First, and alone: a coupon of a program this market does not take says nothing more about
    # itself (whether it was spent, where, when) to a vendor of another program.
    if not market.programs.filter(pk=program.pk).exists():
        return "not_accepted_here", {"program": program.name, "market": market.name}
    if coupon.status == Coupon.Status.VOID:
        return "void", {}
    if coupon.status == Coupon.Status.REDEEMED:
        return "already_redeemed", _redeemed_context(coupon, vendor)
    if category is not None and not program.categories.filter(pk=category.pk).exists():
        return "not_accepted_here", {"program": program.name, "category": category.name}
    if coupon.valid_until < day:
        return "expired", {"valid_until": coupon.valid_until.isoformat()}
    if coupon.valid_from > day:
        return "not_yet_valid", {"valid_from": coupon.valid_from.isoformat()}
    return None


def check_coupon(
    *,
    code: str,
    market: Market,
    category: ProductCategory | None = None,
    vendor: Vendor | None = None,
) -> Verdict:
    """The verdict a redemption would get now, without redeeming anything."""
    try:
        coupon = resolve_scanned_code(code)
    except CodeError as error:
        return Verdict(REJECTED, error.code)
    refusal = _refusal(
        coupon, market=market, category=category, day=timezone.localdate(), vendor=vendor
    )
    if refusal is not None:
        return Verdict(REJECTED, refusal[0], coupon=coupon, context=refusal[1])
    return Verdict(VALID, coupon=coupon)


_V = TypeVar("_V", "Verdict", "Verdict | None")

# The statement that takes a coupon for a scan (`_Attempt.take`), written as SQL because the ORM
# spends several times longer building it than the database spends running it (bench/README.md).
_TAKE_SQL = (
    "UPDATE coupons_coupon SET status = %s, redeemed_at = %s"
    " WHERE id = %s AND status = %s"
    " AND program_id IN (SELECT program_id FROM marches_market_programs WHERE market_id = %s)"
    " AND NOT EXISTS (SELECT 1 FROM marches_scanrejection WHERE client_id = %s)"
)
_TAKE_SQL_CATEGORY = (
    " AND program_id IN"
    " (SELECT program_id FROM programmes_program_categories WHERE productcategory_id = %s)"
)


@functools.cache
def _insert_columns() -> tuple[tuple[Field[Any, Any], ...], str]:
    fields = tuple(f for f in Redemption._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {Redemption._meta.db_table} ({', '.join(quote(f.column) for f in fields)})"
        f" SELECT {', '.join(['%s'] * len(fields))} FROM taken RETURNING id"
    )
    return fields, sql


def _insert_sql(redemption: Redemption) -> tuple[str, list[Any]]:
    """The INSERT of `redemption` from the row `taken` (PostgreSQL), with its values, as
    Model.save() would send them."""
    fields, sql = _insert_columns()
    return sql, [f.get_db_prep_save(getattr(redemption, f.attname), connection) for f in fields]


def _prep(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the database expects it for that field (SQLite stores UUIDs and datetimes as
    text; PostgreSQL takes them as they are)."""
    return model._meta.get_field(name).get_db_prep_value(value, connection)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Scan:
    """One scan as a scanner sends it (the single-redemption format of the API)."""

    code: str
    client_id: uuid.UUID
    category: ProductCategory | None = None
    scanned_at: datetime.datetime | None = None
    offline: bool = False


def redeem_coupon(
    *,
    code: str,
    vendor: Vendor,
    market: Market,
    client_id: uuid.UUID,
    category: ProductCategory | None = None,
    scanned_at: datetime.datetime | None = None,
    device: Device | None = None,
    recorded_by: User | None = None,
    offline: bool = False,
) -> Verdict:
    """Redeem a coupon for `vendor` at `market`, at most once, whatever the retries.

    Idempotent per `client_id`. Two scans of one coupon racing each other: the coupon row is
    locked and its status updated conditionally, so exactly one wins, and a partial unique
    index on accepted redemptions backs it in the database. An `offline` scan of a coupon
    already redeemed becomes a conflict (or takes the acceptance over, if it came first).
    """
    now = timezone.now()
    if scanned_at is not None and timezone.is_naive(scanned_at):
        scanned_at = timezone.make_aware(scanned_at)
    if scanned_at is None or scanned_at > now + CLOCK_SKEW:
        scanned_at = now
    # A QR text is verified once, here, before any query about the coupon.
    coupon: Coupon | None = None
    code_error = ""
    try:
        coupon = resolve_scanned_code(code)
    except CodeError as error:
        code_error = error.code
    scan = _Attempt(
        client_id=client_id,
        code_key=coupon.code if coupon is not None else _code_key(code),
        vendor=vendor,
        market=market,
        category=category,
        scanned_at=scanned_at,
        device=device,
        recorded_by=recorded_by,
        offline=offline,
        now=now,
    )
    if (
        coupon is not None
        and coupon.status == Coupon.Status.ISSUED
        and coupon.valid_from <= scan.day <= coupon.valid_until
    ):
        # Most scans: a new scan of a coupon to take, in one statement (see _Attempt.take). A
        # scan already received is never taken again there, so it is answered below.
        taken = _replaying(scan, lambda: scan.take(coupon))
        if taken is not None:
            return taken
    replay = _replay(client_id, scan.code_key, vendor)
    if replay is not None:
        return replay
    if coupon is None:
        return scan.refuse(code_error)
    refusal = _refusal(coupon, market=market, category=category, day=scan.day, vendor=vendor)
    if refusal is not None and refusal[0] not in {"already_redeemed", "void"}:
        return scan.refuse(refusal[0], coupon, **refusal[1])
    return _replaying(scan, lambda: scan.write(coupon))


def _replaying(scan: _Attempt, write: Callable[[], _V]) -> _V:
    """`write` (which makes its own transaction); if a concurrent twin of this scan won the
    race on the client_id, its answer is replayed instead."""
    try:
        return write()
    except IntegrityError:
        # The same client_id arrived twice at once, and the other request committed first.
        replay = _replay(scan.client_id, scan.code_key, scan.vendor)
        if replay is not None:
            return replay
        raise


@dataclass
class _Attempt:
    client_id: uuid.UUID
    code_key: str
    vendor: Vendor
    market: Market
    category: ProductCategory | None
    scanned_at: datetime.datetime
    device: Device | None
    recorded_by: User | None
    offline: bool
    now: datetime.datetime

    @property
    def day(self) -> datetime.date:
        return timezone.localdate(self.scanned_at)

    def record(self, coupon: Coupon, status: str) -> Redemption:
        redemption = self.redemption(coupon, status)
        redemption.save(force_insert=True)
        return redemption

    def redemption(self, coupon: Coupon, status: str) -> Redemption:
        """The row this scan records (not saved): the one place a redemption is made, so the
        one place its program and household are copied from its coupon's."""
        return Redemption(
            coupon=coupon,
            program_id=coupon.program_id,
            household_id=coupon.household_id,
            vendor=self.vendor,
            market=self.market,
            device=self.device,
            recorded_by=self.recorded_by,
            category=self.category,
            client_id=self.client_id,
            value=coupon.value,
            status=status,
            offline=self.offline,
            scanned_at=self.scanned_at,
            recorded_at=self.now,
        )

    def take(self, coupon: Coupon) -> Verdict | None:
        """Take an issued coupon for this scan, or None (nothing written).

        One conditional UPDATE holds every check that would otherwise cost a query of its own:
        the coupon is still issued, this market takes its program (and the program the
        category), and this client_id was not refused before (a redemption with it is refused
        by the unique index, which rolls this UPDATE back).
        """
        sql = _TAKE_SQL
        params: list[Any] = [
            Coupon.Status.REDEEMED,
            _prep(Coupon, "redeemed_at", self.now),
            coupon.pk,
            Coupon.Status.ISSUED,
            self.market.pk,
            _prep(ScanRejection, "client_id", self.client_id),
        ]
        if self.category is not None:
            sql += _TAKE_SQL_CATEGORY
            params.append(self.category.pk)
        redemption = self.redemption(coupon, Redemption.Status.ACCEPTED)
        if connection.vendor == "postgresql":
            # Taken and recorded in one statement (the INSERT reads the UPDATE's row, so it
            # inserts nothing if the coupon was not taken), which is its own transaction; inside
            # a caller's transaction, a savepoint, so that a duplicate client_id leaves it usable.
            insert, values = _insert_sql(redemption)
            with (
                contextlib.nullcontext() if connection.get_autocommit() else transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(f"WITH taken AS ({sql} RETURNING id) {insert}", params + values)
                row = cursor.fetchone()
            if row is None:
                return None
            redemption.pk = row[0]
            redemption._state.adding, redemption._state.db = False, connection.alias
        else:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                if cursor.rowcount != 1:
                    return None
                redemption.save(force_insert=True)
        coupon.status, coupon.redeemed_at = Coupon.Status.REDEEMED, self.now
        return Verdict(ACCEPTED, coupon=coupon, redemption=redemption)

    def write(self, coupon: Coupon) -> Verdict:
        with transaction.atomic():
            return self._write(coupon)

    def _write(self, coupon: Coupon) -> Verdict:
        # The conditional UPDATE takes the coupon for this scan, or finds it taken (concurrent
        # scans of it queue on the row's lock meanwhile).
        won = Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED).update(
            status=Coupon.Status.REDEEMED, redeemed_at=self.now
        )
        if won:
            redemption = self.record(coupon, Redemption.Status.ACCEPTED)
            coupon.status, coupon.redeemed_at = Coupon.Status.REDEEMED, self.now
            return Verdict(ACCEPTED, coupon=coupon, redemption=redemption)
        # Taken (or voided): lock it to decide between a refusal and a conflict.
        locked = (
            Coupon.objects.select_for_update(of=("self",))
            .select_related("program")
            .get(pk=coupon.pk)
        )
        if not self.offline:
            refusal = _refusal(
                locked,
                market=self.market,
                category=self.category,
                day=self.day,
                vendor=self.vendor,
            )
            reason, context = refusal or (
                "already_redeemed",
                _redeemed_context(locked, self.vendor),
            )
            return self.refuse(reason, locked, **context)
        if locked.status == Coupon.Status.REDEEMED:
            return self.second_scan(locked)
        if locked.voided_at is not None and locked.voided_at > self.scanned_at:
            # Voided after the vendor accepted it offline: the food was given in good faith.
            redemption = self.record(locked, Redemption.Status.CONFLICT)
            return Verdict(CONFLICT, "void", coupon=locked, redemption=redemption)
        return self.refuse("void", locked)

    def second_scan(self, coupon: Coupon) -> Verdict:
        """An offline scan of a coupon already redeemed: the earlier scan is the accepted one."""
        current = (
            Redemption.objects.select_for_update()
            .filter(coupon=coupon, status=Redemption.Status.ACCEPTED)
            .first()
        )
        if (
            current is not None
            and current.statement_id is None
            and (self.scanned_at, str(self.client_id))
            < (current.scanned_at, str(current.client_id))
        ):
            current.status = Redemption.Status.CONFLICT
            current.save(update_fields=["status"])
            redemption = self.record(coupon, Redemption.Status.ACCEPTED)
            return Verdict(ACCEPTED, coupon=coupon, redemption=redemption)
        context = _redeemed_context(coupon, self.vendor)
        redemption = self.record(coupon, Redemption.Status.CONFLICT)
        return Verdict(CONFLICT, "in_review", coupon=coupon, redemption=redemption, context=context)

    def refuse(self, reason: str, coupon: Coupon | None = None, **context: Any) -> Verdict:
        # The same scan may have been recorded by a concurrent request since we first looked.
        replay = _replay(self.client_id, self.code_key, self.vendor)
        if replay is not None:
            return replay
        try:
            with transaction.atomic():
                ScanRejection.objects.create(
                    client_id=self.client_id,
                    code_hash=_hash(self.code_key),
                    reason=reason,
                    context=context,
                    coupon=coupon,
                    vendor=self.vendor,
                    market=self.market,
                    device=self.device,
                    scanned_at=self.scanned_at,
                )
        except IntegrityError:
            replay = _replay(self.client_id, self.code_key, self.vendor)
            if replay is not None:
                return replay
            raise
        return Verdict(REJECTED, reason, coupon=coupon, context=context)


def sync_scans(*, scans: Sequence[Scan], device: Device) -> list[Verdict]:
    """A scanner's queue: each scan redeemed as if sent alone, answers in the order given.

    Scans are applied in `scanned_at` order, which spares the ledger needless take-overs; the
    result does not depend on it (see the module's docstring).
    """
    if len(scans) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} scans per batch")
    order = sorted(
        range(len(scans)),
        key=lambda i: (scans[i].scanned_at or timezone.now(), str(scans[i].client_id)),
    )
    answers: dict[int, Verdict] = {}
    for index in order:
        scan = scans[index]
        answers[index] = redeem_coupon(
            code=scan.code,
            vendor=device.vendor,
            market=device.market,
            client_id=scan.client_id,
            category=scan.category,
            scanned_at=scan.scanned_at,
            device=device,
            offline=scan.offline,
        )
    return [answers[index] for index in range(len(scans))]


# Undo and decisions ---------------------------------------------------------------------------


class RedemptionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def undo_redemption(
    *, redemption: Redemption, undone_by: User, now: datetime.datetime | None = None
) -> Redemption:
    """A vendor's mistaken scan, undone within UNDO_WINDOW: the coupon can be spent again (or,
    if another device also scanned it offline, that scan becomes the accepted one)."""
    now = now or timezone.now()
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().get(pk=redemption.coupon_id)
        row = Redemption.objects.select_for_update().get(pk=redemption.pk)
        if row.status != Redemption.Status.ACCEPTED:
            raise RedemptionError(
                "not_undoable", _("Cet échange ne peut plus être annulé (déjà traité).")
            )
        if row.statement_id is not None:
            raise RedemptionError(
                "on_statement", _("Cet échange figure sur un relevé : il ne peut plus être annulé.")
            )
        if now - row.recorded_at > UNDO_WINDOW:
            raise RedemptionError(
                "undo_window_passed",
                _(
                    "Un échange s'annule dans les {minutes} minutes qui suivent : adressez-vous "
                    "à la coordination."
                ).format(minutes=int(UNDO_WINDOW.total_seconds() // 60)),
            )
        row.status = Redemption.Status.UNDONE
        row.decided_at, row.decided_by = now, undone_by
        row.save(update_fields=["status", "decided_at", "decided_by"])
        waiting = (
            Redemption.objects.filter(coupon=coupon, status=Redemption.Status.CONFLICT)
            .order_by("scanned_at", "client_id")
            .first()
        )
        if waiting is not None:
            waiting.status = Redemption.Status.ACCEPTED
            waiting.save(update_fields=["status"])
        else:
            Coupon.objects.filter(pk=coupon.pk).update(
                status=Coupon.Status.ISSUED, redeemed_at=None
            )
    return row


def decide_conflict(
    *, redemption: Redemption, honour: bool, reason: str, decided_by: User
) -> Redemption:
    """A coordinator's decision on a scan in conflict: honoured (reimbursed, the program records
    the loss) or refused, with a reason the vendor sees."""
    reason = " ".join((reason or "").split())
    if len(reason) < 3 or len(reason) > 300:
        raise RedemptionError(
            "reason_required", _("Indiquez le motif de la décision (3 à 300 caractères).")
        )
    with transaction.atomic():
        updated = Redemption.objects.filter(
            pk=redemption.pk, status=Redemption.Status.CONFLICT
        ).update(
            status=Redemption.Status.HONOURED if honour else Redemption.Status.REFUSED,
            decided_at=timezone.now(),
            decided_by=decided_by,
            decision_reason=reason,
        )
        if not updated:
            raise RedemptionError("already_decided", _("Ce scan en double a déjà été traité."))
    return Redemption.objects.get(pk=redemption.pk)
