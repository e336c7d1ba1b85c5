from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import (
    password_validators_help_texts,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from comptes.models import User
from comptes.selectors import InvitableRole


class InvitationForm(forms.Form):
    """Email, role, and the place (program, organization, market, vendor) of the role.

    The place's value is "<role>:<pk>", grouped by role, so one list serves every role.
    """

    email = forms.EmailField(
        label=_("Courriel de la personne invitée"),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(label=_("Rôle"))
    scope = forms.ChoiceField(
        label=_("Lieu"),
        help_text=_("Choisissez un lieu dans le groupe du rôle choisi."),
    )

    def __init__(self, *args: Any, roles: list[InvitableRole], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.roles = {item.role: item for item in roles}
        role_field = self.fields["role"]
        scope_field = self.fields["scope"]
        assert isinstance(role_field, forms.ChoiceField)
        assert isinstance(scope_field, forms.ChoiceField)
        role_field.choices = [("", "---------")] + [(item.role, item.label) for item in roles]
        scope_field.choices = [("", "---------")] + [
            (item.label, [(f"{item.role}:{scope.pk}", str(scope)) for scope in item.scopes])
            for item in roles
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        role = cleaned.get("role")
        value = cleaned.get("scope")
        if role and value:
            scope_role, _sep, pk = value.partition(":")
            if scope_role != role:
                self.add_error("scope", _("Ce lieu ne correspond pas au rôle choisi."))
            else:
                scope = next(
                    (s for s in self.roles[role].scopes if str(s.pk) == pk),
                    None,
                )
                if scope is None:
                    self.add_error("scope", _("Choisissez un lieu valide."))
                else:
                    cleaned["scope_object"] = scope
        return cleaned


class AcceptNewAccountForm(forms.Form):
    first_name = forms.CharField(
        label=_("Prénom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Nom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    password1 = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=lazy(lambda: " ".join(password_validators_help_texts()), str)(),
    )
    password2 = forms.CharField(
        label=_("Mot de passe (confirmation)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("Les deux mots de passe ne correspondent pas."))
        elif password1:
            candidate = User(
                email=self.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                validate_password(password1, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned
