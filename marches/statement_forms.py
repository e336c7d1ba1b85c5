"""Forms of the reimbursement statements: they validate input; marches.statements acts."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from marches.models import Statement, Vendor
from marches.statements import REFERENCE_MAX_LENGTH
from programmes.models import Program

# Far-off years are typing mistakes (and the day after 9999-12-31 does not exist).
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _plausible(value: datetime.date | None) -> datetime.date | None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise forms.ValidationError(
            _("Entrez une date entre {first} et {last}.").format(first=FIRST_YEAR, last=LAST_YEAR)
        )
    return value


class _ScopedChoices(forms.Form):
    """A form whose program and vendor choices are those the user may work with."""

    def __init__(
        self,
        *args: Any,
        programs: QuerySet[Program],
        vendors: QuerySet[Vendor],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs.order_by("name", "pk")  # type: ignore[attr-defined]
        self.fields["vendor"].queryset = vendors.order_by("name", "pk")  # type: ignore[attr-defined]


class StatementForm(_ScopedChoices):
    """The vendor, program and period of a statement to prepare."""

    program = forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Program.objects.none(),
        to_field_name="slug",
        empty_label=_("— Choisir un programme —"),
        error_messages={
            "required": _("Choisissez un programme."),
            "invalid_choice": _("Choisissez un des programmes proposés."),
        },
    )
    vendor = forms.ModelChoiceField(
        label=_("Marchand·e"),
        queryset=Vendor.objects.none(),
        to_field_name="slug",
        empty_label=_("— Choisir un·e marchand·e —"),
        error_messages={
            "required": _("Choisissez un·e marchand·e."),
            "invalid_choice": _("Choisissez un·e des marchand·es proposé·es."),
        },
    )
    period_start = forms.DateField(
        label=_("Du"),
        widget=_date_widget(),
        error_messages={
            "required": _("Indiquez le premier jour de la période."),
            "invalid": _("Date invalide : utilisez le format AAAA-MM-JJ."),
        },
    )
    period_end = forms.DateField(
        label=_("Au"),
        widget=_date_widget(),
        help_text=_("Les échanges scannés du premier au dernier jour inclus."),
        error_messages={
            "required": _("Indiquez le dernier jour de la période."),
            "invalid": _("Date invalide : utilisez le format AAAA-MM-JJ."),
        },
    )

    def clean_period_start(self) -> datetime.date | None:
        return _plausible(self.cleaned_data.get("period_start"))

    def clean_period_end(self) -> datetime.date | None:
        return _plausible(self.cleaned_data.get("period_end"))


class StatementFilterForm(_ScopedChoices):
    """The filters of the list of statements (all optional)."""

    use_required_attribute = False

    program = forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Program.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label=_("Tous"),
        error_messages={"invalid_choice": _("Ce programme n'est pas dans la liste.")},
    )
    vendor = forms.ModelChoiceField(
        label=_("Marchand·e"),
        queryset=Vendor.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label=_("Tous"),
        error_messages={"invalid_choice": _("Ce·tte marchand·e n'est pas dans la liste.")},
    )
    status = forms.ChoiceField(
        label=_("Statut"),
        choices=[("", _("Tous")), *Statement.Status.choices],
        required=False,
        error_messages={"invalid_choice": _("Ce statut n'existe pas.")},
    )


class PaymentForm(forms.Form):
    reference = forms.CharField(
        label=_("Référence du paiement"),
        max_length=REFERENCE_MAX_LENGTH,
        help_text=_("Le numéro du virement ou du chèque, par exemple (80 caractères au plus)."),
        error_messages={
            "required": _("Indiquez la référence du paiement."),
            "max_length": _("La référence tient en 80 caractères au plus."),
        },
    )
