"""The public sale's form: it reads the input; coupons.sale applies the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from coupons.sale import MAX_EMAIL, MAX_NAME, SaleOffer
from programmes.money import format_money


class SaleForm(forms.Form):
    packs = forms.TypedChoiceField(
        label=_("Nombre de carnets"),
        coerce=int,
        error_messages={
            "required": _("Choisissez le nombre de carnets."),
            "invalid_choice": _("Choisissez un nombre de carnets de la liste."),
        },
    )
    buyer_name = forms.CharField(
        label=_("Votre nom"),
        max_length=MAX_NAME,
        error_messages={"required": _("Indiquez votre nom.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    buyer_email = forms.EmailField(
        label=_("Votre courriel"),
        max_length=MAX_EMAIL,
        help_text=_("Le lien vers vos coupons y sera envoyé."),
        error_messages={
            "required": _("Indiquez votre courriel."),
            "invalid": _("Indiquez une adresse courriel valide : vos coupons y seront envoyés."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args: Any, offer: SaleOffer, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every count a purchase may hold is accepted (the sale re-checks what is left and says
        # how many remain); the list offers what is left now.
        field = self.fields["packs"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (
                count,
                ngettext(
                    "{count} carnet : {value} en coupons pour {price}",
                    "{count} carnets : {value} en coupons pour {price}",
                    count,
                ).format(
                    count=count,
                    value=format_money(offer.pack_value * count, currency),
                    price=format_money(offer.pack_price * count, currency),
                ),
            )
            for count in range(1, max(offer.max_packs, 1) + 1)
        ]
