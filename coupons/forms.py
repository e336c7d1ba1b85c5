"""Forms of the coupons app."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db import models
from django.db.models import QuerySet
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from beneficiaires.models import Organization
from coupons.models import Coupon, VoidReason
from coupons.services import MAX_BATCH_COUPONS
from programmes.forms import DateInput
from programmes.models import Program
from programmes.money import format_money, to_cents


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


class DistributionIssueForm(IssueForm):
    """Issue one distribution only (empty: every distribution still due)."""

    distribution = forms.IntegerField(required=False, min_value=1, max_value=52)


class BearerBatchForm(forms.Form):
    """A batch of bearer coupons: how many of each of the program's values, for whom, valid when."""

    idempotency_key = IssueForm.base_fields["idempotency_key"]
    organization = forms.ModelChoiceField(
        label=_("Organisme qui distribue les coupons"),
        queryset=Organization.objects.none(),
        empty_label=None,
    )
    valid_from = forms.DateField(label=_("Valide à partir du"), widget=DateInput())
    valid_until = forms.DateField(label=_("Valide jusqu'au"), widget=DateInput())
    note = forms.CharField(
        label=_("Note"),
        max_length=200,
        required=False,
        help_text=_("Par exemple l'activité ou le point de distribution. Aucun nom de personne."),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        self.fields["organization"].queryset = program.organizations.order_by("name")  # type: ignore[attr-defined]
        self.values = [d.value for d in program.denominations.all()]
        for value in self.values:
            self.fields[self.count_field(value)] = forms.IntegerField(
                label=_("Coupons de {value}").format(value=format_money(value, program.currency)),
                min_value=0,
                max_value=MAX_BATCH_COUPONS,
                initial=0,
                required=False,
            )

    @staticmethod
    def count_field(value: Decimal) -> str:
        return "count_" + str(to_cents(value))

    def count_fields(self) -> list[forms.BoundField]:
        return [self[self.count_field(value)] for value in self.values]

    def other_fields(self) -> list[forms.BoundField]:
        names = ("organization", "valid_from", "valid_until", "note")
        return [self[name] for name in names]

    def counts(self) -> dict[Decimal, int]:
        return {value: self.cleaned_data.get(self.count_field(value)) or 0 for value in self.values}


class VoidForm(forms.Form):
    """Void coupons, or void and replace them, with a reason."""

    class Action(models.TextChoices):
        VOID = "void", _("Annuler seulement (le coupon ne vaut plus rien)")
        REPLACE = "replace", _("Annuler et remplacer (un nouveau coupon de même valeur)")

    idempotency_key = IssueForm.base_fields["idempotency_key"]
    coupons = forms.ModelMultipleChoiceField(
        label=_("Coupons"),
        queryset=Coupon.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choisissez au moins un coupon.")},
    )
    reason = forms.ChoiceField(label=_("Motif"), choices=VoidReason.choices)
    note = forms.CharField(
        label=_("Précision"),
        max_length=200,
        required=False,
        help_text=_("Obligatoire pour « Autre motif ». Aucun nom de personne."),
    )
    action = forms.ChoiceField(
        label=_("Que faire ?"),
        choices=Action.choices,
        initial=Action.REPLACE,
        widget=forms.RadioSelect,
    )

    everything = forms.BooleanField(
        label=_("Tous les coupons encore valides de ce lot (lot perdu ou volé)"), required=False
    )

    def __init__(
        self,
        *args: Any,
        coupons: QuerySet[Coupon],
        allow_all: bool = False,
        list_choices: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.choices = coupons
        field = self.fields["coupons"]
        field.queryset = coupons  # type: ignore[attr-defined]
        field.label_from_instance = _coupon_label  # type: ignore[attr-defined]
        if allow_all:
            field.required = False
        else:
            del self.fields["everything"]
        if not list_choices:
            # Too many to list: chosen by typed serials (the view narrows `coupons`) or all.
            field.widget = forms.MultipleHiddenInput()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("everything"):
            cleaned["coupons"] = list(self.choices)
        elif "everything" in self.fields and not cleaned.get("coupons") and not self.errors:
            raise forms.ValidationError(_("Choisissez au moins un coupon."))
        return cleaned


def _coupon_label(coupon: Coupon) -> str:
    return _("{serial} · {value} · valide du {start} au {end}").format(
        serial=coupon.serial,
        value=format_money(coupon.value, coupon.program.currency),
        start=date_format(coupon.valid_from, "SHORT_DATE_FORMAT"),
        end=date_format(coupon.valid_until, "SHORT_DATE_FORMAT"),
    )
