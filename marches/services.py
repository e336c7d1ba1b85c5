"""Writes of the markets app: redeeming coupons and managing scanning devices."""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from comptes.models import User
from coupons import codes, signing
from coupons.keys import verify_qr_text
from coupons.models import Coupon
from coupons.selectors import CodeError, resolve_scanned_code
from marches.models import Device, Market, Redemption, ScanRejection, Vendor
from programmes.models import ProductCategory, Program
from programmes.money import format_money
from programmes.slugs import save_with_free_slug

# A scan may say it happened a little in the future (a phone's clock drifts); beyond this the
# server's clock wins.
CLOCK_SKEW = datetime.timedelta(minutes=5)

ACCEPTED = "accepted"
REJECTED = "rejected"
VALID = "valid"

# Reasons a coupon is refused; 422 for codes that are not ours, 409 for coupons in a wrong state.
UNPROCESSABLE_REASONS = frozenset({"invalid_code", "bad_signature"})


@dataclass(frozen=True)
class Verdict:
    """The answer to a scan, for the API and the scanner page alike."""

    status: str  # accepted | rejected | valid (a check that redeems nothing)
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
        return 422 if self.reason in UNPROCESSABLE_REASONS else 409

    @property
    def title(self) -> str:
        """A few words for the big verdict box."""
        titles = {
            "accepted": _("Accepté"),
            "valid": _("Valide"),
            "already_redeemed": _("Déjà échangé"),
            "expired": _("Expiré"),
            "not_yet_valid": _("Pas encore valide"),
            "void": _("Annulé"),
            "not_accepted_here": _("Non accepté ici"),
            "invalid_code": _("Code invalide"),
            "bad_signature": _("Code invalide"),
            "client_id_reused": _("Scan en double"),
        }
        return titles.get(self.reason or self.status, _("Refusé"))

    @property
    def detail(self) -> str:
        """One sentence in the active language (the request's)."""
        c = self.context
        if self.status == ACCEPTED:
            return _("Coupon de {value} accepté. Remettez les produits.").format(
                value=format_money(self.coupon.value if self.coupon else None)
            )
        if self.status == VALID:
            return _("Coupon de {value} valide : il n'a pas encore été échangé.").format(
                value=format_money(self.coupon.value if self.coupon else None)
            )
        messages = {
            "already_redeemed": lambda: _(
                "Déjà échangé le {date} à {time} — {market}, {vendor}."
            ).format(
                date=_date(c.get("redeemed_at")),
                time=_time(c.get("redeemed_at")),
                market=c.get("market", ""),
                vendor=c.get("vendor", ""),
            ),
            "expired": lambda: _("Ce coupon est expiré depuis le {date}.").format(
                date=_date(c.get("valid_until"))
            ),
            "not_yet_valid": lambda: _(
                "Ce coupon n'est pas encore valide : utilisable à partir du {date}."
            ).format(date=_date(c.get("valid_from"))),
            "void": lambda: _("Ce coupon a été annulé : il ne peut pas être accepté."),
            "not_accepted_here": lambda: _not_accepted_detail(c),
            "invalid_code": lambda: _(
                "Code invalide : ce n'est pas un coupon valide. Vérifiez le code et réessayez."
            ),
            "bad_signature": lambda: _(
                "Code invalide : la signature du code QR est incorrecte (coupon falsifié ou abîmé)."
            ),
            "client_id_reused": lambda: _(
                "Cet identifiant de scan a déjà servi pour un autre code."
            ),
        }
        message = messages.get(self.reason or "")
        return message() if message else _("Coupon refusé.")


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


def _replay(client_id: uuid.UUID, code_key: str, vendor: Vendor) -> Verdict | None:
    """The first answer given to this client_id, if this scan was already received.

    A client_id is only ever replayed to the vendor that sent it: another vendor presenting it
    learns nothing about that scan.
    """
    redemption = (
        Redemption.objects.select_related("coupon__program", "vendor", "market")
        .filter(client_id=client_id)
        .first()
    )
    if redemption is not None:
        if redemption.vendor_id != vendor.pk or redemption.coupon.code != code_key:
            return Verdict(REJECTED, "client_id_reused", replayed=True)
        return Verdict(ACCEPTED, coupon=redemption.coupon, redemption=redemption, replayed=True)
    rejection = ScanRejection.objects.select_related("coupon").filter(client_id=client_id).first()
    if rejection is not None:
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


def _redeemed_context(coupon: Coupon) -> dict[str, Any]:
    redemption = (
        Redemption.objects.select_related("market", "vendor")
        .filter(coupon=coupon, status=Redemption.Status.ACCEPTED)
        .first()
    )
    if redemption is None:
        return {}
    return {
        "redeemed_at": redemption.recorded_at.isoformat(),
        "market": redemption.market.name,
        "vendor": redemption.vendor.name,
    }


def _refusal(
    coupon: Coupon, *, market: Market, category: ProductCategory | None, today: datetime.date
) -> tuple[str, dict[str, Any]] | None:
    """Why this coupon cannot be accepted here today, or None. Order: what the vendor most needs
    to know first."""
    program = coupon.program
    # First, and alone: a coupon of a program this market does not take says nothing more about
    # itself (whether it was spent, where, when) to a vendor of another program.
    if not market.programs.filter(pk=program.pk).exists():
        return "not_accepted_here", {"program": program.name, "market": market.name}
    if coupon.status == Coupon.Status.VOID:
        return "void", {}
    if coupon.status == Coupon.Status.REDEEMED:
        return "already_redeemed", _redeemed_context(coupon)
    if category is not None and not program.categories.filter(pk=category.pk).exists():
        return "not_accepted_here", {"program": program.name, "category": category.name}
    if coupon.valid_until < today:
        return "expired", {"valid_until": coupon.valid_until.isoformat()}
    if coupon.valid_from > today:
        return "not_yet_valid", {"valid_from": coupon.valid_from.isoformat()}
    return None


def check_coupon(*, code: str, market: Market, category: ProductCategory | None = None) -> Verdict:
    """The verdict a redemption would get now, without redeeming anything."""
    try:
        coupon = resolve_scanned_code(code)
    except CodeError as error:
        return Verdict(REJECTED, error.code)
    refusal = _refusal(coupon, market=market, category=category, today=timezone.localdate())
    if refusal is not None:
        return Verdict(REJECTED, refusal[0], coupon=coupon, context=refusal[1])
    return Verdict(VALID, coupon=coupon)


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
) -> Verdict:
    """Redeem a coupon for `vendor` at `market`, at most once, whatever the retries.

    Idempotent per `client_id`: the same scan sent again gets the first answer and writes
    nothing. Two scans of the same coupon racing each other: the conditional UPDATE lets exactly
    one win, and a partial unique index on accepted redemptions backs it in the database.
    """
    now = timezone.now()
    if scanned_at is not None and timezone.is_naive(scanned_at):
        scanned_at = timezone.make_aware(scanned_at)
    if scanned_at is None or scanned_at > now + CLOCK_SKEW:
        scanned_at = now
    code_key = _code_key(code)
    replay = _replay(client_id, code_key, vendor)
    if replay is not None:
        return replay

    def refuse(reason: str, coupon: Coupon | None = None, **context: Any) -> Verdict:
        return _record_refusal(
            client_id=client_id,
            code_key=code_key,
            reason=reason,
            context=context,
            coupon=coupon,
            vendor=vendor,
            market=market,
            device=device,
            scanned_at=scanned_at,
        )

    try:
        coupon = resolve_scanned_code(code)
    except CodeError as error:
        return refuse(error.code)
    refusal = _refusal(coupon, market=market, category=category, today=timezone.localdate())
    if refusal is not None:
        return refuse(refusal[0], coupon, **refusal[1])

    try:
        with transaction.atomic():
            won = Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED).update(
                status=Coupon.Status.REDEEMED, redeemed_at=now
            )
            if won:
                redemption = Redemption.objects.create(
                    coupon=coupon,
                    vendor=vendor,
                    market=market,
                    device=device,
                    recorded_by=recorded_by,
                    category=category,
                    client_id=client_id,
                    value=coupon.value,
                    scanned_at=scanned_at,
                    recorded_at=now,
                )
                coupon.status, coupon.redeemed_at = Coupon.Status.REDEEMED, now
                return Verdict(ACCEPTED, coupon=coupon, redemption=redemption)
    except IntegrityError:
        # The same client_id arrived twice at once, and the other request committed first.
        pass

    # Another scan redeemed (or voided) this coupon between our read and our update.
    replay = _replay(client_id, code_key, vendor)
    if replay is not None:
        return replay
    coupon.refresh_from_db()
    refusal = _refusal(coupon, market=market, category=category, today=timezone.localdate())
    reason, context = refusal or ("already_redeemed", _redeemed_context(coupon))
    return refuse(reason, coupon, **context)


def _record_refusal(
    *,
    client_id: uuid.UUID,
    code_key: str,
    reason: str,
    context: dict[str, Any],
    coupon: Coupon | None,
    vendor: Vendor,
    market: Market,
    device: Device | None,
    scanned_at: datetime.datetime,
) -> Verdict:
    # The same scan may have been accepted by a concurrent request since we first looked: then
    # the coupon looks "already redeemed" to us, but the answer owed is that acceptance.
    replay = _replay(client_id, code_key, vendor)
    if replay is not None:
        return replay
    try:
        with transaction.atomic():
            ScanRejection.objects.create(
                client_id=client_id,
                code_hash=_hash(code_key),
                reason=reason,
                context=context,
                coupon=coupon,
                vendor=vendor,
                market=market,
                device=device,
                scanned_at=scanned_at,
            )
    except IntegrityError:
        replay = _replay(client_id, code_key, vendor)
        if replay is not None:
            return replay
        raise
    return Verdict(REJECTED, reason, coupon=coupon, context=context)


# Devices ---------------------------------------------------------------------------------------

TOKEN_PREFIX = "pcn_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_device(
    *, vendor: Vendor, market: Market, name: str, created_by: User | None
) -> tuple[Device, str]:
    """Make a device token for `vendor` at `market`. The token is returned once, never stored."""
    if not vendor.markets.filter(pk=market.pk).exists():
        raise DeviceError(
            "vendor_not_at_market",
            _("{vendor} ne vend pas à ce marché ({market}).").format(vendor=vendor, market=market),
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = Device.objects.create(
        vendor=vendor,
        market=market,
        name=name.strip() or _("Appareil"),
        token_hash=hash_token(token),
        token_prefix=token[:8],
        created_by=created_by,
    )
    return device, token


def revoke_device(*, device: Device) -> Device:
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
    return device


def authenticate_device(token: str) -> Device | None:
    """The active device holding this token, or None. Marks it as seen."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    device = (
        Device.objects.select_related("vendor", "market")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if device is not None:
        now = timezone.now()
        # One write a minute at most, not one per scan.
        if device.last_used_at is None or now - device.last_used_at > datetime.timedelta(minutes=1):
            Device.objects.filter(pk=device.pk).update(last_used_at=now)
    return device


class DeviceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Markets and vendors ---------------------------------------------------------------------------


class MarketError(Exception):
    """A market or vendor change that cannot be made: `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def create_market(
    *, name: str, city: str, address: str = "", program: Program | None = None
) -> Market:
    """A new public market, accepting `program`'s coupons when given."""
    name, city, address = name.strip(), city.strip(), address.strip()
    if not name or not city:
        raise MarketError("missing_fields", _("Le nom et la municipalité sont obligatoires."))
    if Market.objects.filter(name__iexact=name, city__iexact=city).exists():
        raise MarketError(
            "duplicate_market",
            _(
                "Le marché {name} ({city}) existe déjà : ajoutez-le au programme au lieu de le "
                "créer."
            ).format(name=name, city=city),
        )
    with transaction.atomic():
        market = save_with_free_slug(
            Market,
            name,
            lambda slug: Market.objects.create(name=name, city=city, address=address, slug=slug),
            fallback="marche",
        )
        if program is not None:
            market.programs.add(program)
    return market


def add_market_to_program(*, market: Market, program: Program) -> Market:
    """Make `market` accept `program`'s coupons (idempotent)."""
    market.programs.add(program)
    return market


def remove_market_from_program(*, market: Market, program: Program) -> Market:
    """Stop accepting `program`'s coupons at `market`. Past redemptions stay as they are."""
    if not market.programs.filter(pk=program.pk).exists():
        raise MarketError(
            "not_in_program",
            _("{market} n'accepte pas les coupons du programme {program}.").format(
                market=market, program=program
            ),
        )
    market.programs.remove(program)
    return market


def create_vendor(
    *, name: str, market: Market, categories: Iterable[ProductCategory] = ()
) -> Vendor:
    """A new vendor who sells at `market` the given product categories."""
    name = name.strip()
    if not name:
        raise MarketError("missing_fields", _("Le nom de l'entreprise est obligatoire."))
    if market.vendors.filter(name__iexact=name).exists():
        raise MarketError(
            "duplicate_vendor",
            _("{vendor} vend déjà à ce marché ({market}).").format(vendor=name, market=market),
        )
    with transaction.atomic():
        vendor = save_with_free_slug(
            Vendor,
            name,
            lambda slug: Vendor.objects.create(name=name, slug=slug),
            fallback="marchand",
        )
        vendor.markets.add(market)
        vendor.categories.set(list(categories))
    return vendor
