"""The public donation form: it reads the input; financement.donations applies the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from financement.donations import MAX_ADDRESS, MAX_DEDICATION, MAX_EMAIL, MAX_NAME
from programmes.forms import MoneyField


class DonationForm(forms.Form):
    amount = MoneyField(
        label=_("Montant du don ($)"),
        help_text=_("De 5 $ à 10 000 $, par exemple 25 ou 50,00."),
        error_messages={"required": _("Indiquez le montant de votre don.")},
    )
    donor_name = forms.CharField(
        label=_("Votre nom"),
        max_length=MAX_NAME,
        help_text=_("Tel qu'il doit paraître sur le reçu."),
        error_messages={"required": _("Indiquez votre nom.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    donor_email = forms.EmailField(
        label=_("Votre courriel"),
        max_length=MAX_EMAIL,
        help_text=_("Le reçu y sera envoyé."),
        error_messages={
            "required": _("Indiquez votre courriel."),
            "invalid": _("Indiquez une adresse courriel valide : le reçu y sera envoyé."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    # Only on the form of a program that gives official tax receipts (see __init__).
    donor_address = forms.CharField(
        label=_("Votre adresse postale"),
        max_length=MAX_ADDRESS,
        required=False,
        help_text=_("Elle doit figurer sur le reçu officiel aux fins de l'impôt."),
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )
    dedication = forms.CharField(
        label=_("Dédicace (facultatif)"),
        max_length=MAX_DEDICATION,
        required=False,
        help_text=_("Par exemple « En mémoire de… ». Elle paraît sur le reçu."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, official: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if official:
            # Required by the service, which says why; marked here for the reader.
            self.fields["donor_address"].widget.attrs["aria-required"] = "true"
        else:
            del self.fields["donor_address"]
