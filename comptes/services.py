"""Writes of the accounts app: invitations (create, accept, revoke).

Every function is keyword-only and raises `InvitationError` with a machine-readable `code` and
a translated message; nothing here knows about HTTP requests.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from comptes.models import Invitation, User
from comptes.registry import RoleDefinition, role_definitions
from comptes.selectors import role_label

logger = logging.getLogger(__name__)

INVITATION_VALIDITY = datetime.timedelta(days=14)


class InvitationError(Exception):
    """A refused invitation operation. `code` is stable; `message` is for people."""

    def __init__(self, code: str, message: str, *, messages: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # Every message when there are several (the password validators' complaints).
        self.messages = messages or [message]

    def __str__(self) -> str:
        return self.message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _definition(role: str) -> RoleDefinition:
    for definition in role_definitions():
        if definition.role == role:
            return definition
    raise InvitationError("unknown_role", _("Ce rôle ne peut pas faire l'objet d'une invitation."))


def _can_invite_into(user: User, definition: RoleDefinition, scope: Any) -> bool:
    if not isinstance(scope, definition.scope_model) or scope.pk is None:
        return False
    return definition.invitable_scopes(user).filter(pk=scope.pk).exists()


def create_invitation(
    *,
    inviter: User,
    email: str,
    role: str,
    scope: Any,
    absolute_url: Callable[[str], str] | None = None,
) -> tuple[Invitation, str]:
    """Invite `email` into `role` on `scope`; return the invitation and its raw token.

    `absolute_url` turns a path into a full URL for the email (a view passes
    `request.build_absolute_uri`); without it the email holds the path alone.
    """
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvitationError("invalid_email", _("Adresse courriel invalide.")) from exc

    definition = _definition(role)
    if not _can_invite_into(inviter, definition, scope):
        raise InvitationError(
            "forbidden_scope",
            _("Vous ne pouvez pas inviter de personne à ce rôle à cet endroit."),
        )

    scope_type = ContentType.objects.get_for_model(definition.scope_model)
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            already = Invitation.objects.filter(
                email__iexact=email,
                role=role,
                scope_type=scope_type,
                scope_id=scope.pk,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            ).exists()
            if already:
                raise InvitationError(
                    "already_invited",
                    _(
                        "Une invitation en attente existe déjà pour ce courriel, "
                        "ce rôle et ce lieu."
                    ),
                )
            invitation = Invitation.objects.create(
                email=email,
                role=role,
                scope_type=scope_type,
                scope_id=scope.pk,
                token_hash=hash_token(token),
                invited_by=inviter,
                created_at=now,
                expires_at=now + INVITATION_VALIDITY,
            )
            _send_invitation_email(
                invitation=invitation, scope=scope, token=token, absolute_url=absolute_url
            )
    except IntegrityError as exc:  # pragma: no cover - a token collision is astronomically rare
        raise InvitationError("conflict", _("Veuillez réessayer.")) from exc
    return invitation, token


def _send_invitation_email(
    *,
    invitation: Invitation,
    scope: Any,
    token: str,
    absolute_url: Callable[[str], str] | None,
) -> None:
    path = reverse("comptes_invitation_accept", kwargs={"token": token})
    link = absolute_url(path) if absolute_url else path
    # Invitees have no language yet: the email is in the site's language (French first).
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "invitation": invitation,
            "inviter": invitation.invited_by,
            "inviter_name": invitation.invited_by.get_full_name() or invitation.invited_by.email,
            "role_label": role_label(invitation.role),
            "scope": scope,
            "scope_kind": str(type(scope)._meta.verbose_name),
            "link": link,
            "expires_on": date_format(timezone.localtime(invitation.expires_at), "DATE_FORMAT"),
        }
        subject = " ".join(
            render_to_string("comptes/email/invitation_subject.txt", context).split()
        )
        body = render_to_string("comptes/email/invitation_message.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except Exception as exc:  # the SMTP server's errors vary; the invitation is rolled back
        logger.exception("Invitation email to %s failed", invitation.email)
        raise InvitationError(
            "email_failed",
            _("Le courriel d'invitation n'a pas pu être envoyé. Réessayez plus tard."),
        ) from exc


def _check_usable(invitation: Invitation | None) -> Invitation:
    if invitation is None:
        raise InvitationError(
            "invalid", _("Ce lien d'invitation n'est pas valide. Vérifiez l'adresse reçue.")
        )
    if invitation.accepted_at is not None:
        raise InvitationError(
            "already_accepted",
            _("Cette invitation a déjà été acceptée. Connectez-vous avec votre courriel."),
        )
    if invitation.revoked_at is not None:
        raise InvitationError(
            "revoked",
            _(
                "Cette invitation a été annulée. "
                "Demandez une nouvelle invitation à la coordination."
            ),
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationError(
            "expired",
            _("Cette invitation a expiré. Demandez une nouvelle invitation à la coordination."),
        )
    return invitation


def check_invitation(*, token: str) -> Invitation:
    """The pending invitation of this token, or `InvitationError` saying why not."""
    invitation = (
        Invitation.objects.select_related("invited_by", "scope_type")
        .filter(token_hash=hash_token(token or ""))
        .first()
    )
    return _check_usable(invitation)


def accept_invitation(
    *,
    token: str,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Accept an invitation: create the account if needed, grant the role, mark it accepted.

    The caller must make sure that, when the email already has an account, the person accepting
    is signed in as that account.
    """
    try:
        return _accept(token=token, password=password, first_name=first_name, last_name=last_name)
    except IntegrityError as error:
        # Two first acceptances at the same moment: the other one created the account.
        raise InvitationError(
            "already_accepted",
            _("Cette invitation a déjà été acceptée. Connectez-vous avec votre courriel."),
        ) from error


def _accept(*, token: str, password: str | None, first_name: str, last_name: str) -> User:
    with transaction.atomic():
        invitation = check_invitation(token=token)
        definition = _definition(invitation.role)
        scope = definition.scope_model._default_manager.filter(pk=invitation.scope_id).first()
        if scope is None:
            raise InvitationError("invalid", _("Le lieu visé par cette invitation n'existe plus."))

        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            user = _create_invited_user(
                email=invitation.email,
                password=password,
                first_name=first_name,
                last_name=last_name,
            )
        elif not user.is_active:
            raise InvitationError(
                "inactive_account",
                _("Le compte associé à ce courriel est désactivé. Contactez la coordination."),
            )

        # A conditional update: of two simultaneous acceptances, only one marks the row.
        marked = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(accepted_at=timezone.now(), accepted_by=user)
        if marked != 1:
            raise InvitationError(
                "already_accepted",
                _("Cette invitation a déjà été acceptée. Connectez-vous avec votre courriel."),
            )
        definition.grant(user, scope)
    return user


def _create_invited_user(
    *, email: str, password: str | None, first_name: str, last_name: str
) -> User:
    if not password:
        raise InvitationError("password_required", _("Choisissez un mot de passe."))
    candidate = User(email=email, first_name=first_name.strip(), last_name=last_name.strip())
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        messages = [str(message) for message in exc.messages]
        raise InvitationError("invalid_password", " ".join(messages), messages=messages) from exc
    return User.objects.create_user(
        email=email,
        password=password,
        first_name=candidate.first_name,
        last_name=candidate.last_name,
    )


def can_revoke(*, invitation: Invitation, user: User) -> bool:
    if invitation.invited_by_id == user.pk:
        return True
    try:
        definition = _definition(invitation.role)
    except InvitationError:
        return False
    return definition.invitable_scopes(user).filter(pk=invitation.scope_id).exists()


def revoke_invitation(*, invitation: Invitation, by: User) -> Invitation:
    """Revoke a pending invitation: its link stops working at once."""
    if not can_revoke(invitation=invitation, user=by):
        raise InvitationError("forbidden", _("Vous ne pouvez pas révoquer cette invitation."))
    _check_usable(invitation)
    now = timezone.now()
    revoked = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    if revoked != 1:
        invitation.refresh_from_db()
        _check_usable(invitation)
    invitation.revoked_at = now
    return invitation
