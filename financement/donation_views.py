"""Public donation pages (no account): the form, the thank-you page, the PDF receipt.

The donor pays on Stripe's hosted Checkout page: the form redirects there (303) and Stripe
sends them back to the thank-you page with `?session_id=`. What the payment does is decided by
the webhook (financement/webhooks.py), never by these pages.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from comptes.security import refuse_past_checkout_limit
from financement import stripe_gateway
from financement.donation_forms import DonationForm
from financement.donations import (
    DonationError,
    donation_for_checkout,
    donation_for_receipt,
    receipt_is_official,
    receipt_path,
    start_donation,
)
from financement.receipts import receipt_for, render_receipt_pdf
from programmes.models import Program


def _form_page(
    request: HttpRequest, program: Program, form: DonationForm, status: int = 200
) -> HttpResponse:
    context = {
        "program": program,
        "form": form,
        "configured": stripe_gateway.is_configured(),
        "cancelled": request.GET.get("annule") == "1",
    }
    return render(request, "financement/donation_form.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def donation_form(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(Program, slug=slug)
    official = program.gives_official_receipts
    if request.method != "POST":
        return _form_page(request, program, DonationForm(official=official))
    form = DonationForm(request.POST, official=official)
    if not stripe_gateway.is_configured():
        return _form_page(request, program, form, status=503)
    if not form.is_valid():
        return _form_page(request, program, form, status=400)
    refused = refuse_past_checkout_limit(
        request, form, lambda status: _form_page(request, program, form, status=status)
    )
    if refused is not None:
        return refused
    thanks = reverse("financement:donation_thanks", kwargs={"slug": program.slug})
    page = reverse("financement:donation_form", kwargs={"slug": program.slug})
    try:
        _donation, url = start_donation(
            program=program,
            amount=form.cleaned_data["amount"],
            donor_name=form.cleaned_data["donor_name"],
            donor_email=form.cleaned_data["donor_email"],
            dedication=form.cleaned_data["dedication"],
            donor_address=form.cleaned_data.get("donor_address", ""),
            language=get_language() or "fr",
            # Stripe replaces {CHECKOUT_SESSION_ID} when it sends the donor back.
            success_url=request.build_absolute_uri(thanks) + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=request.build_absolute_uri(page) + "?annule=1",
        )
    except DonationError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        status = 400 if error.field else 503
        return _form_page(request, program, form, status=status)
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@never_cache
@require_GET
def donation_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(Program, slug=slug)
    donation = donation_for_checkout(
        program=program, session_id=request.GET.get("session_id", "").strip()
    )
    # paid, pending, expired or refunded
    state = "unknown" if donation is None else str(donation.status)
    context = {
        "program": program,
        "donation": donation,
        "state": state,
        "receipt_url": receipt_path(donation) if state == "paid" and donation else "",
        "official": donation is not None and receipt_is_official(donation),
    }
    return render(
        request,
        "financement/donation_thanks.html",
        context,
        status=404 if state == "unknown" else 200,
    )


@never_cache
@require_GET
def donation_receipt(request: HttpRequest, token: str) -> HttpResponse:
    donation = donation_for_receipt(token)
    if donation is None:
        raise Http404
    pdf = render_receipt_pdf(receipt_for(donation))
    safe_number = re.sub(r"[^A-Za-z0-9_-]", "", donation.receipt_number) or str(donation.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="recu-{safe_number}.pdf"'
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
