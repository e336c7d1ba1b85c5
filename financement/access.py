"""Who may read a funder's reports: its members (staff who sign in) and its API tokens.

A funder reaches the aggregates of the programs it funds (those with a contribution from it),
never anything about a person. Its scripts authenticate to the reports API with a bearer token:
only the token's SHA-256 is stored, and the token is shown once, when it is made.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from financement.models import Contribution, Funder, FunderToken
from programmes.models import Program
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

    AnyUser = User | AnonymousUser

# Distinct from the scanners' "pcn_", so that a token pasted in the wrong place is recognised.
TOKEN_PREFIX = "pcnf_"
LABEL_MAX_LENGTH = FunderToken._meta.get_field("label").max_length or 80
# A token used all day long is marked as seen at most once a minute, not once per request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class FunderAccessError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# Programs a funder funds -----------------------------------------------------------------------


def funded_programs(funder: Funder) -> QuerySet[Program]:
    """The programs with at least one contribution from `funder`."""
    given = Contribution.objects.filter(program=OuterRef("pk"), funder=funder)
    return Program.objects.select_related("territory").filter(Exists(given))


def member_programs(user: AnyUser) -> QuerySet[Program]:
    """The programs funded by any funder `user` is a member of."""
    if not user.is_authenticated:
        return Program.objects.none()
    given = Contribution.objects.filter(program=OuterRef("pk"), funder__members=user)
    return Program.objects.select_related("territory").filter(Exists(given))


# Who manages a funder's access -----------------------------------------------------------------


def managed_funders(user: AnyUser) -> QuerySet[Funder]:
    """The funders whose tokens and members `user` manages: every funder for a network admin;
    for a coordinator, those that fund one of their programs."""
    if not user.is_authenticated:
        return Funder.objects.none()
    if user.is_network_admin:
        return Funder.objects.order_by("name")
    mine = Contribution.objects.filter(funder=OuterRef("pk"), program__in=programs_for(user))
    return Funder.objects.filter(Exists(mine)).order_by("name")


def grant_funder_member(user: User, funder: Funder) -> None:
    """Accepting an invitation into the funder role (idempotent)."""
    funder.members.add(user)


def funder_tokens(funder: Funder) -> QuerySet[FunderToken]:
    return funder.tokens.select_related("created_by").order_by("revoked_at", "-created_at", "-pk")


def find_funder(query: str) -> Funder:
    """The one funder named `query` or whose contact email is `query` (case ignored)."""
    query = (query or "").strip()
    if not query:
        raise FunderAccessError("funder_required", _("Nommez le bailleur de fonds."))
    # A name is unique, so it wins; several funders may share a contact email.
    found = list(Funder.objects.filter(name__iexact=query)[:1]) or list(
        Funder.objects.filter(contact_email__iexact=query).order_by("name")[:2]
    )
    if not found:
        raise FunderAccessError(
            "unknown_funder",
            _("Aucun bailleur de fonds ne porte ce nom ni ce courriel : {query}.").format(
                query=query
            ),
        )
    if len(found) > 1:
        raise FunderAccessError(
            "ambiguous_funder",
            _(
                "Plusieurs bailleurs de fonds ont ce courriel : {query}. Donnez plutôt le nom "
                "du bailleur de fonds."
            ).format(query=query),
        )
    return found[0]


# Tokens ----------------------------------------------------------------------------------------


def create_funder_token(
    *, funder: Funder, label: str, created_by: User | None
) -> tuple[FunderToken, str]:
    """Make an API token for `funder`. The token is returned once and never stored."""
    label = (label or "").strip() or _("Jeton de l'API des rapports")
    if len(label) > LABEL_MAX_LENGTH:
        raise FunderAccessError(
            "label_too_long",
            _("Le nom du jeton compte au plus {limit} caractères.").format(limit=LABEL_MAX_LENGTH),
        )
    if "\x00" in label:
        raise FunderAccessError(
            "label_invalid", _("Le nom du jeton contient un caractère qui n'est pas permis.")
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = FunderToken.objects.create(
        funder=funder,
        label=label,
        token_hash=hash_token(token),
        token_prefix=token[: len(TOKEN_PREFIX) + 4],
        created_by=created_by,
    )
    return row, token


def revoke_funder_token(*, token: FunderToken) -> FunderToken:
    """Revoke a token (idempotent: a revoked token keeps its first revocation time)."""
    if token.revoked_at is None:
        now = timezone.now()
        FunderToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        token.refresh_from_db(fields=["revoked_at"])
    return token


def resolve_funder_token(token: str) -> FunderToken | None:
    """The active token row (with its funder) for this plaintext token, or None. The look-up is
    by the token's hash, so the comparison never depends on how much of a guess was right."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (
        FunderToken.objects.select_related("funder")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        FunderToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
