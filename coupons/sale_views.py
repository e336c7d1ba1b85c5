"""Pages of the public solidarity sale.

Public (no account; never another buyer's data): the offer and its form, the thank-you page
(found by the Checkout session id Stripe puts in its URL), and the printable PDF of a buyer's
coupons behind their wallet token. The buyer pays on Stripe's hosted Checkout page: the form
redirects there (303). What the payment does is decided by the webhook, never by these pages.

Coordinators (through `programs_for`, 404 outside): the program's sales, with the paid ones
whose coupons could not be issued flagged.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from comptes.security import refuse_past_checkout_limit
from coupons.models import CouponSale
from coupons.pdf import render_coupons_pdf
from coupons.printing import batch_print_queryset, iter_printable, program_logo_png
from coupons.sale import (
    SaleError,
    buyer_wallet_paths,
    closed_message,
    program_sales,
    sale_for_checkout,
    sale_offer,
    sale_subsidies,
    sales_to_settle,
    start_sale,
)
from coupons.sale_forms import SaleForm
from coupons.wallet import buyer_language, resolve_wallet_token
from financement import stripe_gateway
from programmes.models import Program
from programmes.selectors import programs_for

PAGE_SIZE = 50
# Refused before Stripe is called because of the program's state, not the buyer's input.
UNAVAILABLE_CODES = {"not_configured", "payment_unavailable"}


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # The thank-you page's URL holds the session id, and its links the buyer's wallet token.
    response["Referrer-Policy"] = "no-referrer"
    return response


def _form_page(
    request: HttpRequest,
    program: Program,
    form: SaleForm | None = None,
    status: int = 200,
) -> HttpResponse:
    offer = sale_offer(program)
    if form is None:
        form = SaleForm(offer=offer, currency=program.currency)
    context = {
        "program": program,
        "offer": offer,
        "form": form,
        "configured": stripe_gateway.is_configured(),
        "closed_message": "" if offer.is_open else closed_message(offer),
        "cancelled": request.GET.get("annule") == "1",
    }
    return render(request, "coupons/sale_form.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def sale_form(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(Program, slug=slug)
    if request.method != "POST":
        return _form_page(request, program)
    form = SaleForm(request.POST, offer=sale_offer(program), currency=program.currency)
    if not stripe_gateway.is_configured():
        return _form_page(request, program, form, status=503)
    if not form.is_valid():
        return _form_page(request, program, form, status=400)
    refused = refuse_past_checkout_limit(
        request, form, lambda status: _form_page(request, program, form, status=status)
    )
    if refused is not None:
        return refused
    thanks = reverse("coupons:sale_thanks", kwargs={"slug": program.slug})
    page = reverse("coupons:sale_form", kwargs={"slug": program.slug})
    try:
        _sale, url = start_sale(
            program=program,
            packs=form.cleaned_data["packs"],
            buyer_name=form.cleaned_data["buyer_name"],
            buyer_email=form.cleaned_data["buyer_email"],
            language=get_language() or "fr",
            # Stripe replaces {CHECKOUT_SESSION_ID} when it sends the buyer back.
            success_url=request.build_absolute_uri(thanks) + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=request.build_absolute_uri(page) + "?annule=1",
        )
    except SaleError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        status = 503 if error.code in UNAVAILABLE_CODES else 400
        return _form_page(request, program, form, status=status)
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@never_cache
@require_GET
def sale_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(Program, slug=slug)
    sale = sale_for_checkout(program=program, session_id=request.GET.get("session_id", "").strip())
    wallet_url = pdf_url = ""
    if sale is None:
        state = "unknown"
    elif sale.status == CouponSale.Status.PAID:
        wallet_url, pdf_url = buyer_wallet_paths(sale)
        state = "paid" if wallet_url else "paid_not_issued"
    else:
        state = str(sale.status)  # pending, expired or refunded
    context = {
        "program": program,
        "sale": sale,
        "state": state,
        "wallet_url": wallet_url,
        "pdf_url": pdf_url,
    }
    response = render(
        request,
        "coupons/sale_thanks.html",
        context,
        status=404 if state == "unknown" else 200,
    )
    return _no_referrer(response)


@never_cache
@require_GET
def sale_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The printable PDF of a buyer's coupons (the wallet token is the key)."""
    link = resolve_wallet_token(token)
    batch = link.batch if link is not None and link.household_id is None else None
    if batch is None:
        page = render_to_string("coupons/wallet_invalid.html", {"lang": ""})
        return _no_referrer(HttpResponseNotFound(page))
    coupons = batch_print_queryset(batch, timezone.localdate())
    if not coupons.exists():  # all spent, voided or expired: the wallet page says so
        return redirect("coupons:wallet", token=token)
    try:
        language = batch.sale.language
    except CouponSale.DoesNotExist:
        language = "fr"
    with buyer_language(language):
        pdf = render_coupons_pdf(
            iter_printable(coupons),
            title=_("Coupons de l'achat solidaire · {program}").format(program=batch.program.name),
            author=batch.program.name,
            logo_png=program_logo_png(batch.program),
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="coupons-achat-{batch.pk}.pdf"'
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return _no_referrer(response)


@login_required
@require_GET
def program_sales_page(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(programs_for(request.user), slug=slug)
    now = timezone.now()
    used, reserved = sale_subsidies(program, now)
    sales = program_sales(program)
    page_obj = Paginator(sales, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "coupons/sale_list.html",
        {
            "program": program,
            "page_obj": page_obj,
            "offer": sale_offer(program, now),
            "used": used,
            "reserved": reserved,
            "to_settle": list(sales_to_settle(program)),
            "now": now,
        },
    )


urlpatterns: list[URLPattern] = [
    path("vente/<slug:slug>/", sale_form, name="sale_form"),
    path("vente/<slug:slug>/merci/", sale_thanks, name="sale_thanks"),
    path("portefeuille/<str:token>/coupons.pdf", sale_pdf, name="sale_pdf"),
    path("programmes/<slug:slug>/ventes/", program_sales_page, name="program_sales"),
]
