"""Forms of the coupons app."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class IssueForm(forms.Form):
    """The issuance button. Its key is made when the page is shown: the same form posted twice
    (a double click, a resubmission) issues once."""

    idempotency_key = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Demande incomplète : rechargez la page et réessayez."),
            "invalid": _("Demande incomplète : rechargez la page et réessayez."),
        },
    )
