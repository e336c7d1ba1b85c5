"""The digital wallet: a household's signed, revocable link to a page of its valid coupons.

The link carries `WalletLink.public_id` signed with the site's secret (django.core.signing,
salt "coupons.wallet"). There is no expiry in the token: revocation is the control. Making a
new link revokes the old one; anonymizing or withdrawing the household kills every link, because
`resolve_wallet_token` refuses such households (beneficiaires offers no hook to revoke them at
that moment, and may not import this app).

Writes: create_wallet_link, revoke_wallet_link, record_wallet_opened, send_wallet_link_by_email;
for a public buyer (a sale's batch, no household): create_sale_wallet_link,
revoke_sale_wallet_links.
Reads: wallet_token, resolve_wallet_token, wallet_coupons, wallet_entries, live_wallet_link,
sale_wallet_entries…
"""

from __future__ import annotations

import datetime
import smtplib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from beneficiaires.models import AuditEntry, Consent, Household
from beneficiaires.services import record_access
from comptes.models import User
from coupons.codes import format_code
from coupons.models import Coupon, IssuanceBatch, WalletLink
from coupons.qr_svg import qr_svg
from coupons.selectors import qr_text_for
from coupons.wallet_card import WalletCard, render_wallet_card

WALLET_SALT = "coupons.wallet"
# A real token is 32 hex digits, ":" and a 43-character signature; anything much longer is not
# worth hashing.
MAX_TOKEN_LENGTH = 120
# last_opened_at is a hint for the staff, not a log: one write an hour is plenty.
OPENED_RESOLUTION = datetime.timedelta(hours=1)
FRENCH, ENGLISH = "fr-ca", "en"


class WalletError(Exception):
    """Why a wallet action cannot be done: `code` is machine-readable, the message translated."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Tokens -------------------------------------------------------------------------------------


def _signer() -> signing.Signer:
    return signing.Signer(salt=WALLET_SALT)


def wallet_token(link: WalletLink) -> str:
    """The secret part of the link's URL: its public_id, signed (no expiry)."""
    return _signer().sign(link.public_id.hex)


def wallet_public_id(token: str) -> uuid.UUID | None:
    """The public_id a token carries if its signature holds; never touches the database."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return None
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        return None


def resolve_wallet_token(token: str) -> WalletLink | None:
    """The live link a token stands for, or None (forged, revoked, or a household gone).

    The signature is checked before any query: a forged or garbled token costs no database
    work. A withdrawn or anonymized household's link is dead even though nothing revoked it.
    A public buyer's link (`link.batch` set, no household) is dead once revoked (a refund).
    """
    public_id = wallet_public_id(token)
    if public_id is None:
        return None
    return (
        WalletLink.objects.select_related(
            "household", "household__program", "batch", "batch__program", "batch__sale"
        )
        .filter(
            public_id=public_id,
            revoked_at__isnull=True,
            household__anonymized_at__isnull=True,
        )
        .exclude(household__status=Household.Status.WITHDRAWN)
        .first()
    )


# Writes -------------------------------------------------------------------------------------


def wallet_refusal(household: Household) -> WalletError | None:
    """Why this household may not have a wallet link now, or None when it may."""
    if household.anonymized_at is not None:
        return WalletError(
            "anonymized",
            _("Ce ménage a été rendu anonyme : il ne peut plus avoir de portefeuille numérique."),
        )
    if household.status == Household.Status.WITHDRAWN:
        return WalletError(
            "withdrawn",
            _(
                "Ce ménage est retiré du programme : il ne peut pas avoir de portefeuille "
                "numérique."
            ),
        )
    if household.status == Household.Status.WAITLISTED:
        return WalletError(
            "waitlisted",
            _(
                "Ce ménage est en liste d'attente : son portefeuille numérique pourra être créé "
                "quand il sera inscrit."
            ),
        )
    return None


def create_wallet_link(*, household: Household, created_by: User) -> tuple[WalletLink, str]:
    """Make the household's wallet link, revoking the live one if any; returns (link, token).

    Refuses (WalletError) an anonymized, withdrawn or waitlisted household.
    """
    with transaction.atomic():
        # Lock the household: two clicks on "new link" queue up here instead of racing, and the
        # state checked below cannot change before the link is made.
        household = (
            Household.objects.select_for_update().select_related("program").get(pk=household.pk)
        )
        refusal = wallet_refusal(household)
        if refusal is not None:
            raise refusal
        now = timezone.now()
        WalletLink.objects.filter(household=household, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=created_by
        )
        try:
            # The database allows one live link per household (SQLite ignores the lock above).
            with transaction.atomic():
                link = WalletLink.objects.create(
                    household=household, created_by=created_by, created_at=now
                )
        except IntegrityError:
            raise WalletError(
                "conflict",
                _("Un autre lien vient d'être créé pour ce ménage : rechargez la page."),
            ) from None
    return link, wallet_token(link)


def revoke_wallet_link(*, link: WalletLink, revoked_by: User) -> bool:
    """Revoke the link at once; False when it was revoked already (idempotent)."""
    now = timezone.now()
    updated = WalletLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=revoked_by
    )
    if updated:
        link.revoked_at, link.revoked_by = now, revoked_by
    return bool(updated)


def record_wallet_opened(*, link: WalletLink, now: datetime.datetime | None = None) -> bool:
    """Note that the wallet was opened, at most once per OPENED_RESOLUTION (one UPDATE)."""
    now = now or timezone.now()
    updated = (
        WalletLink.objects.filter(pk=link.pk)
        .filter(Q(last_opened_at__isnull=True) | Q(last_opened_at__lt=now - OPENED_RESOLUTION))
        .update(last_opened_at=now)
    )
    if updated:
        link.last_opened_at = now
    return bool(updated)


# Languages ----------------------------------------------------------------------------------


def household_languages(household: Household) -> list[str]:
    """The languages to write to the household in: its preferred one, or both (French first)
    when it prefers another language."""
    if household.preferred_language == Household.Language.ENGLISH:
        return [ENGLISH]
    if household.preferred_language == Household.Language.FRENCH:
        return [FRENCH]
    return [FRENCH, ENGLISH]


def bilingual(render: Callable[[], str], languages: list[str]) -> list[str]:
    """`render()` once in each language, dropping a repeat (a message not translated yet)."""
    texts: list[str] = []
    for language in languages:
        with translation.override(language):
            text = render()
        if text not in texts:
            texts.append(text)
    return texts


# Email and SMS ------------------------------------------------------------------------------


def has_contact_consent(household: Household) -> bool:
    return household.consents.filter(
        purpose=Consent.Purpose.CONTACT, withdrawn_at__isnull=True
    ).exists()


def wallet_email_possible(household: Household) -> bool:
    """Whether the link may be emailed: an email on file and an active consent to be
    contacted. Only the presence of the address is read, never shown."""
    return bool(household.email) and has_contact_consent(household)


def link_household(link: WalletLink) -> Household:
    """The household of a household's link (a public buyer's link has none)."""
    if link.household is None:
        raise WalletError("not_a_household_link", _("Ce lien n'est pas celui d'un ménage."))
    return link.household


def _email_texts(link: WalletLink, url: str) -> tuple[str, str]:
    household = link_household(link)
    created = date_format(timezone.localtime(link.created_at).date(), "DATE_FORMAT")
    subject = _("Vos coupons de {program}").format(program=household.program.name)
    body = "\n\n".join(
        [
            _("Bonjour,"),
            _("Voici le lien vers vos coupons de {program} :").format(
                program=household.program.name
            ),
            url,
            _(
                "Ouvrez-le sur votre téléphone et montrez le code QR d'un coupon au marchand. "
                "Une fois ouverte, la page reste disponible même sans connexion Internet."
            ),
            _(
                "Gardez ce lien pour vous : il donne accès à vos coupons. Ce lien a été créé le "
                "{date}; il remplace tout lien reçu avant."
            ).format(date=created),
            household.organization.name,
        ]
    )
    return subject, body


def send_wallet_link_by_email(*, link: WalletLink, token: str, url: str, sent_by: User) -> None:
    """Email the link to the household, in its language; raises WalletError when it may not.

    Only with an email on file and an active consent to be contacted. Reading the (encrypted)
    address writes an access audit row.
    """
    if link.revoked_at is not None:
        raise WalletError("revoked", _("Ce lien a été révoqué : créez-en un nouveau."))
    if wallet_public_id(token) != link.public_id or token not in url:
        raise WalletError("token_mismatch", _("Ce lien ne correspond pas à ce portefeuille."))
    household = link_household(link)
    refusal = wallet_refusal(household)
    if refusal is not None:
        raise refusal
    if not has_contact_consent(household):
        raise WalletError(
            "no_contact_consent",
            _("Ce ménage n'a pas consenti à être contacté : remettez-lui plutôt la carte."),
        )
    email = household.email
    if not email:
        raise WalletError("no_email", _("Ce ménage n'a pas d'adresse courriel au dossier."))
    record_access(
        user=sent_by,
        households=[household],
        action=AuditEntry.Action.VIEW,
        fields=("email",),
        detail="wallet_email",
    )
    languages = household_languages(household)
    subjects = bilingual(lambda: _email_texts(link, url)[0], languages)
    bodies = bilingual(lambda: _email_texts(link, url)[1], languages)
    try:
        send_mail(" / ".join(subjects), "\n\n— — —\n\n".join(bodies), None, [email])
    except (smtplib.SMTPException, OSError):
        raise WalletError(
            "email_failed", _("Le courriel n'a pas pu être envoyé : réessayez plus tard.")
        ) from None


def wallet_sms_href(*, household: Household, url: str) -> str:
    """An sms: link that opens the phone's messaging app with the message ready (no number:
    the intervenant picks the recipient, so no phone number is read here)."""

    def text() -> str:
        return _("Vos coupons de {program} : {url}").format(program=household.program.name, url=url)

    body = "\n".join(bilingual(text, household_languages(household)))
    # "sms:?&body=" is the form both Android and iOS understand.
    return "sms:?&body=" + quote(body, safe="")


# Reads --------------------------------------------------------------------------------------


def live_wallet_link(household: Household) -> WalletLink | None:
    return (
        WalletLink.objects.select_related("created_by")
        .filter(household=household, revoked_at__isnull=True)
        .first()
    )


def wallet_links(household: Household, limit: int = 10) -> list[WalletLink]:
    """The household's links, newest first, with who made and revoked them."""
    return list(
        WalletLink.objects.select_related("created_by", "revoked_by").filter(household=household)[
            :limit
        ]
    )


def wallet_coupons(household: Household, today: datetime.date) -> QuerySet[Coupon]:
    """What the wallet shows: issued coupons (neither voided nor redeemed) not expired.

    Ordered by start date, so the coupons valid today come first, then the later
    distributions; an expired coupon is never shown.
    """
    return (
        Coupon.objects.select_related("program")
        .filter(household=household, status=Coupon.Status.ISSUED, valid_until__gte=today)
        .order_by("valid_from", "valid_until", "-value", "serial")
    )


@dataclass(frozen=True)
class WalletEntry:
    serial: str
    manual_code: str
    value: Decimal
    currency: str
    valid_from: datetime.date
    valid_until: datetime.date
    starts_later: bool
    qr_text: str
    svg: str


def wallet_entries(*, household: Household, today: datetime.date) -> list[WalletEntry]:
    """The wallet's coupons, each with its QR code as SVG (titles in the active language)."""
    return _entries(wallet_coupons(household, today), today)


def _entries(coupons: QuerySet[Coupon], today: datetime.date) -> list[WalletEntry]:
    entries = []
    for coupon in coupons:
        text = qr_text_for(coupon)
        entries.append(
            WalletEntry(
                serial=coupon.serial,
                manual_code=format_code(coupon.code),
                value=coupon.value,
                currency=coupon.program.currency,
                valid_from=coupon.valid_from,
                valid_until=coupon.valid_until,
                starts_later=coupon.valid_from > today,
                qr_text=text,
                svg=qr_svg(
                    text,
                    title=_("Code QR du coupon {serial}").format(serial=coupon.serial),
                ),
            )
        )
    return entries


@contextmanager
def household_language(household: Household, chosen: str = "") -> Iterator[str]:
    """Activate the wallet page's language: `chosen` ("fr" or "en", from the page's switch),
    else the household's preferred one (French for any other language)."""
    if chosen in ("fr", "en"):
        language = ENGLISH if chosen == "en" else FRENCH
    else:
        language = household_languages(household)[0]
    with translation.override(language):
        yield language


# A public buyer's wallet (the solidarity sale, coupons/sale.py) ------------------------------


def create_sale_wallet_link(*, batch: IssuanceBatch) -> WalletLink:
    """The wallet link of a sale's batch: its live link, or a new one (no household, made by
    no one: the payment made it). Called inside the payment's transaction."""
    link = WalletLink.objects.filter(batch=batch, revoked_at__isnull=True).first()
    if link is None:
        link = WalletLink.objects.create(batch=batch, household=None, created_by=None)
    return link


def live_sale_wallet_link(batch: IssuanceBatch) -> WalletLink | None:
    return WalletLink.objects.filter(batch=batch, revoked_at__isnull=True).first()


def revoke_sale_wallet_links(*, batch: IssuanceBatch, revoked_by: User | None) -> int:
    """Turn away a sale's links at once (the sale was refunded); how many were live."""
    return WalletLink.objects.filter(batch=batch, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=revoked_by
    )


def sale_wallet_coupons(batch: IssuanceBatch, today: datetime.date) -> QuerySet[Coupon]:
    """What a buyer's wallet shows: the batch's issued coupons not expired, largest first."""
    return (
        Coupon.objects.select_related("program")
        .filter(batch=batch, status=Coupon.Status.ISSUED, valid_until__gte=today)
        .order_by("valid_from", "valid_until", "-value", "serial")
    )


def sale_wallet_entries(*, batch: IssuanceBatch, today: datetime.date) -> list[WalletEntry]:
    return _entries(sale_wallet_coupons(batch, today), today)


@contextmanager
def buyer_language(language: str, chosen: str = "") -> Iterator[str]:
    """Activate a buyer's page language: `chosen` from the page's switch, else the language
    they bought in ("fr" or "en")."""
    preferred = chosen if chosen in ("fr", "en") else language
    active = ENGLISH if preferred.startswith("en") else FRENCH
    with translation.override(active):
        yield active


def wallet_card_pdf(*, household: Household, url: str) -> bytes:
    """The printable card of `url` (the household's wallet link), in French and English."""
    both = [FRENCH, ENGLISH]
    card = WalletCard(
        url=url,
        program_name=household.program.name,
        household_label=" / ".join(
            bilingual(lambda: _("Ménage {reference}").format(reference=household.reference), both)
        ),
        instructions=bilingual(
            lambda: _("Scannez ce code avec votre téléphone pour voir vos coupons."), both
        ),
        warning=bilingual(
            lambda: _(
                "Gardez cette carte pour vous : elle donne accès à vos coupons. Si vous la "
                "perdez, demandez un nouveau lien à votre organisme."
            ),
            both,
        ),
    )
    return render_wallet_card(card)
