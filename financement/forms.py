"""Forms of the funding pages: they parse the input; the services apply the rules (amounts, dates,
documents) and say what is wrong."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from financement.models import Funder
from financement.selectors import funders
from financement.services import MAX_DOCUMENT_BYTES, Document, NewFunder
from programmes.forms import DateInput, MoneyField

DOCUMENT_ACCEPT = "application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg"
# The type of a document is read from its first bytes, never taken from the browser's word.
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
UNKNOWN_TYPE = "application/octet-stream"
_REQUEST_ERRORS = {
    "required": _("Demande incomplète : rechargez la page et réessayez."),
    "invalid": _("Demande incomplète : rechargez la page et réessayez."),
}


def sniff_content_type(data: bytes) -> str:
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    return UNKNOWN_TYPE


def clean_filename(name: str) -> str:
    """A file name safe to store and send back: no folders, no control characters, 160 at most
    (the extension kept)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = re.sub(r'["<>|*?:]', "", " ".join(name.split())).strip(". ")
    if not name:
        return "document"
    if len(name) > 160:
        stem, dot, extension = name.rpartition(".")
        if dot and len(extension) <= 10:
            name = stem[: 159 - len(extension)] + "." + extension
        else:
            name = name[:160]
    return name


class FunderForm(forms.Form):
    # Lengths and duplicates are checked by the service, which explains them.
    name = forms.CharField(
        label=_("Nom du bailleur de fonds"),
        widget=forms.TextInput(attrs={"maxlength": 160}),
        help_text=_("Ex. Ministère de l'Agriculture, Fondation Lucie et André Chagnon."),
    )
    kind = forms.ChoiceField(label=_("Type"), choices=Funder.Kind.choices)
    contact_email = forms.EmailField(
        label=_("Courriel de la personne-ressource (facultatif)"),
        required=False,
        help_text=_("Pour les rapports et les ententes."),
    )


class ContributionForm(forms.Form):
    """A grant or a gift received. Its key is made when the page is shown: the same form posted
    twice records one contribution."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, error_messages=_REQUEST_ERRORS)
    funder = forms.ModelChoiceField(
        label=_("Bailleur de fonds"),
        queryset=Funder.objects.none(),
        required=False,
        empty_label=_("— Un nouveau bailleur de fonds (nommez-le ci-dessous) —"),
    )
    new_funder_name = forms.CharField(
        label=_("Nouveau bailleur de fonds : son nom"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 160}),
        help_text=_("Seulement s'il n'est pas dans la liste."),
    )
    new_funder_kind = forms.ChoiceField(
        label=_("Nouveau bailleur de fonds : son type"),
        choices=Funder.Kind.choices,
        initial=Funder.Kind.OTHER,
        required=False,
    )
    amount = MoneyField(
        label=_("Montant reçu ($ CA)"), help_text=_("Ex. 2 500 ou 2500,00 (deux décimales).")
    )
    received_on = forms.DateField(label=_("Reçu le"), widget=DateInput())
    reference = forms.CharField(
        label=_("Référence (facultatif)"),
        required=False,
        max_length=80,
        help_text=_("Numéro d'entente, de chèque ou de virement."),
    )
    restrictions = forms.CharField(
        label=_("Conditions (facultatif)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Ce que le bailleur de fonds exige : usage, territoire, rapport à remettre…"),
    )
    document = forms.FileField(
        label=_("Document (facultatif)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": DOCUMENT_ACCEPT}),
        help_text=_(
            "L'entente ou la lettre : un PDF, un PNG ou un JPEG de 5 Mo au plus. Nommez le "
            "fichier sans nom de personne (ex. entente-MAPAQ-2026.pdf)."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["funder"].queryset = funders()  # type: ignore[attr-defined]
        self.fields["received_on"].initial = timezone.localdate

    def funder_given(self) -> Funder | NewFunder:
        """The funder chosen in the list, or the new one named (after is_valid())."""
        data = self.cleaned_data
        if data.get("funder") is not None:
            return data["funder"]  # type: ignore[no-any-return]
        return NewFunder(
            name=data["new_funder_name"], kind=data.get("new_funder_kind") or Funder.Kind.OTHER
        )

    def clean_new_funder_name(self) -> str:
        return " ".join(str(self.cleaned_data.get("new_funder_name") or "").split())

    def clean_document(self) -> Document | None:
        upload = self.cleaned_data.get("document")
        if not upload:
            return None
        # Refused before it is read: the service checks the same limit on the bytes.
        if upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(_("Le document pèse au plus 5 Mo."))
        data = bytes(upload.read())
        return Document(
            filename=clean_filename(upload.name),
            content_type=sniff_content_type(data),
            data=data,
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        funder, new_name = cleaned.get("funder"), cleaned.get("new_funder_name")
        if "funder" in self.errors:
            return cleaned
        if funder is not None and new_name:
            self.add_error(
                "new_funder_name",
                _(
                    "Choisissez le bailleur de fonds dans la liste ou nommez-en un nouveau, "
                    "pas les deux."
                ),
            )
        elif funder is None and not new_name:
            self.add_error(
                "funder",
                _("Choisissez le bailleur de fonds dans la liste, ou nommez-en un nouveau."),
            )
        return cleaned
