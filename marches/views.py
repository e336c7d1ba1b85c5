"""Pages of the markets app: markets of a program, market and vendor pages, devices, scanner.

Thin views: they fetch through scoped selectors (out of scope is a 404), validate with forms and
write through services.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from coupons.models import Coupon
from marches import selectors
from marches.forms import (
    DeviceForm,
    ExistingMarketForm,
    MarketDaysForm,
    MarketEditForm,
    MarketForm,
    ScanForm,
    VendorEditForm,
    VendorForm,
    parse_date,
)
from marches.models import Market, MarketDay, Redemption, Vendor
from marches.redemptions import UNDO_WINDOW, RedemptionError, redeem_coupon, undo_redemption
from marches.services import (
    DeviceError,
    MarketError,
    add_market_days,
    add_market_to_program,
    create_device,
    create_market,
    create_vendor,
    remove_market_day,
    remove_market_from_program,
    revoke_device,
    update_market,
    update_vendor,
)
from programmes.money import format_money

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25
# The vendor's scans in review, on the vendor's page (their own page parameter).
CONFLICTS_PAGE_SIZE = 10
UPCOMING_DAYS = 5


def _page(
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    param: str = "page",
    size: int = PAGE_SIZE,
) -> Page:
    return Paginator(queryset, size).get_page(request.GET.get(param))


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind `login_required`)."""
    return cast("User", request.user)


def _invitation_url(role: str, pk: int) -> str:
    return reverse("comptes_invitation_create") + "?" + urlencode({"role": role, "scope": str(pk)})


# Markets of a program --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def program_markets(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(selectors.coordinated_programs(request.user), slug=slug)
    addable = selectors.addable_markets(program)
    create_form = MarketForm(prefix="new")
    add_form = ExistingMarketForm(prefix="existing", markets=addable)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            create_form = MarketForm(request.POST, prefix="new")
            if create_form.is_valid():
                try:
                    market = create_market(**create_form.cleaned_data, program=program)
                except MarketError as error:
                    create_form.add_error(None, error.message)
                else:
                    messages.success(
                        request,
                        _("{market} accepte maintenant les coupons du programme.").format(
                            market=market.name
                        ),
                    )
                    return redirect("marches:program_markets", slug=program.slug)
        elif action == "add":
            add_form = ExistingMarketForm(request.POST, prefix="existing", markets=addable)
            if add_form.is_valid():
                market = add_market_to_program(
                    market=add_form.cleaned_data["market"], program=program
                )
                messages.success(
                    request,
                    _("{market} accepte maintenant les coupons du programme.").format(
                        market=market.name
                    ),
                )
                return redirect("marches:program_markets", slug=program.slug)
        else:
            messages.error(request, _("Action inconnue : rien n'a été modifié."))
        status = 400
    return render(
        request,
        "marches/program_markets.html",
        {
            "program": program,
            "page_obj": _page(request, selectors.program_markets(program)),
            "create_form": create_form,
            "add_form": add_form,
            "has_addable": addable.exists(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def program_market_remove(request: HttpRequest, slug: str, market_slug: str) -> HttpResponse:
    program = get_object_or_404(selectors.coordinated_programs(request.user), slug=slug)
    market = get_object_or_404(program.markets.all(), slug=market_slug)
    if request.method == "POST":
        try:
            remove_market_from_program(market=market, program=program)
        except MarketError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("{market} n'accepte plus les coupons du programme {program}.").format(
                    market=market.name, program=program.name
                ),
            )
        return redirect("marches:program_markets", slug=program.slug)
    return render(
        request, "marches/program_market_remove.html", {"program": program, "market": market}
    )


# Market page -----------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[datetime.date, datetime.date]:
    """The period asked by ?du=…&au=… (inclusive), today by default; bad dates → today."""
    today = timezone.localdate()
    raw_start = request.GET.get("du", "").strip()
    raw_end = request.GET.get("au", "").strip()
    start, end = parse_date(raw_start), parse_date(raw_end)
    if (raw_start and start is None) or (raw_end and end is None):
        messages.error(
            request,
            _("Date invalide : utilisez le format AAAA-MM-JJ. Voici les échanges d'aujourd'hui."),
        )
        return today, today
    start = start or end or today
    end = end or max(start, today)
    if start > end:
        messages.error(
            request,
            _("La date de début est après la date de fin. Voici les échanges d'aujourd'hui."),
        )
        return today, today
    return start, end


@login_required
@require_http_methods(["GET"])
def market_detail(request: HttpRequest, slug: str) -> HttpResponse:
    market = get_object_or_404(selectors.markets_for(request.user), slug=slug)
    start, end = _period(request)
    period = selectors.market_redemptions(market, start, end, user=request.user)
    return render(
        request,
        "marches/market_detail.html",
        {
            "market": market,
            "programs": market.programs.all(),
            "vendors": selectors.market_vendors(market),
            "period": period,
            "page_obj": _page(request, period.redemptions),
            "query_string": urlencode({"du": start.isoformat(), "au": end.isoformat()}),
            "vendor_form": VendorForm(),
            "invite_manager_url": _invitation_url("market_manager", market.pk),
            "invite_vendor_url": reverse("comptes_invitation_create"),
            "upcoming_days": selectors.market_days(market, since=timezone.localdate())[
                :UPCOMING_DAYS
            ],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def market_edit(request: HttpRequest, slug: str) -> HttpResponse:
    market = get_object_or_404(selectors.markets_for(request.user), slug=slug)
    form = MarketEditForm(
        request.POST or None,
        initial={
            "city": market.city,
            "address": market.address,
            "season_start": market.season_start,
            "season_end": market.season_end,
        },
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                update_market(market=market, **form.cleaned_data)
            except MarketError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("Les renseignements du marché {market} sont enregistrés.").format(
                        market=market.name
                    ),
                )
                return redirect("marches:market_detail", slug=market.slug)
        status = 400
    return render(
        request, "marches/market_edit.html", {"market": market, "form": form}, status=status
    )


# Market days -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def market_days(request: HttpRequest, slug: str) -> HttpResponse:
    market = get_object_or_404(selectors.markets_for(request.user), slug=slug)
    form = MarketDaysForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                added = add_market_days(market=market, **form.cleaned_data)
            except MarketError as error:
                form.add_error(None, error.message)
            else:
                if added.created:
                    messages.success(
                        request,
                        _("Journées de marché ajoutées : {count}.").format(
                            count=len(added.created)
                        ),
                    )
                if added.skipped:
                    messages.info(
                        request,
                        _("Déjà au calendrier, laissées telles quelles : {count}.").format(
                            count=len(added.skipped)
                        ),
                    )
                return redirect("marches:market_days", slug=market.slug)
        status = 400
    show_past = request.GET.get("passees") == "1"
    days = selectors.market_days(market, since=None if show_past else timezone.localdate())
    page_obj = _page(request, days)
    return render(
        request,
        "marches/market_days.html",
        {
            "market": market,
            "form": form,
            "page_obj": page_obj,
            "show_past": show_past,
            "query_string": "passees=1" if show_past else "",
            "kept": selectors.market_days_with_redemptions(
                market, [day.date for day in page_obj.object_list]
            ),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def market_day_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    market = get_object_or_404(selectors.markets_for(request.user), slug=slug)
    day: MarketDay = get_object_or_404(selectors.market_days(market), pk=pk)
    if request.method == "POST":
        try:
            remove_market_day(day=day)
        except MarketError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("La journée du {date} est retirée du calendrier.").format(
                    date=date_format(day.date, "DATE_FORMAT")
                ),
            )
        return redirect("marches:market_days", slug=market.slug)
    return render(request, "marches/market_day_remove.html", {"market": market, "day": day})


@login_required
@require_http_methods(["GET", "POST"])
def vendor_create(request: HttpRequest, slug: str) -> HttpResponse:
    market = get_object_or_404(selectors.markets_for(request.user), slug=slug)
    form = VendorForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                vendor = create_vendor(
                    name=form.cleaned_data["name"],
                    market=market,
                    categories=form.cleaned_data["categories"],
                )
            except MarketError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("{vendor} vend maintenant à ce marché ({market}).").format(
                        vendor=vendor.name, market=market.name
                    ),
                )
                return redirect("marches:vendor_detail", slug=vendor.slug)
        status = 400
    return render(
        request, "marches/vendor_form.html", {"market": market, "form": form}, status=status
    )


# Vendor page -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def vendor_detail(request: HttpRequest, slug: str) -> HttpResponse:
    vendor = get_object_or_404(selectors.vendors_for(request.user), slug=slug)
    today = timezone.localdate()
    raw_day = request.GET.get("jour", "").strip()
    day_date = parse_date(raw_day) or today
    if raw_day and parse_date(raw_day) is None:
        messages.error(
            request, _("Date invalide : utilisez le format AAAA-MM-JJ. Voici aujourd'hui.")
        )
    day = selectors.vendor_day(vendor, day_date, user=request.user)
    visible_markets = set(
        selectors.markets_for(request.user).filter(vendors=vendor).values_list("pk", flat=True)
    )
    query_string = urlencode({"jour": day_date.isoformat()}) if raw_day else ""
    return render(
        request,
        "marches/vendor_detail.html",
        {
            "vendor": vendor,
            "day": day,
            "today": today,
            "is_today": day_date == today,
            "previous_day": day_date - datetime.timedelta(days=1),
            "next_day": day_date + datetime.timedelta(days=1) if day_date < today else None,
            # Every scan of the day, undone and in review included; the totals count accepted
            # ones only.
            "page_obj": _page(request, selectors.vendor_scans(vendor, day_date, user=request.user)),
            "query_string": query_string,
            "undoable": selectors.undoable_redemption_ids(vendor, user=request.user),
            "undo_minutes": int(UNDO_WINDOW.total_seconds() // 60),
            "conflicts": _page(
                request,
                selectors.vendor_conflicts(vendor, user=request.user),
                param="examens",
                size=CONFLICTS_PAGE_SIZE,
            ),
            "conflicts_query": query_string,
            "markets": vendor.markets.all(),
            "visible_markets": visible_markets,
            "can_scan": selectors.scanning_vendors_for(request.user).filter(pk=vendor.pk).exists(),
            "can_edit": selectors.editable_vendors(request.user).filter(pk=vendor.pk).exists(),
            "can_invite": selectors.invitable_vendors(request.user).filter(pk=vendor.pk).exists(),
            "categories": vendor.categories.all(),
            "invite_vendor_url": _invitation_url("vendor", vendor.pk),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def vendor_edit(request: HttpRequest, slug: str) -> HttpResponse:
    vendor = get_object_or_404(selectors.editable_vendors(request.user), slug=slug)
    allowed = selectors.assignable_markets(request.user)
    local_programs = list(selectors.local_currency_programs(vendor.markets.all()))
    form = VendorEditForm(
        request.POST or None,
        markets=allowed,
        local_programs=local_programs,
        initial={
            "name": vendor.name,
            "categories": list(vendor.categories.all()),
            "markets": list(allowed.filter(vendors=vendor)),
            "payout": vendor.payout,
        },
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                update_vendor(vendor=vendor, allowed_markets=allowed, **form.cleaned_data)
            except MarketError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("Les renseignements de {vendor} sont enregistrés.").format(
                        vendor=vendor.name
                    ),
                )
                if selectors.vendors_for(request.user).filter(pk=vendor.pk).exists():
                    return redirect("marches:vendor_detail", slug=vendor.slug)
                # Taken from the user's last market: the vendor is out of their sight now.
                return redirect("accueil")
        status = 400
    return render(
        request,
        "marches/vendor_edit.html",
        {
            "vendor": vendor,
            "form": form,
            "other_markets": vendor.markets.exclude(pk__in=allowed.values("pk")),
        },
        status=status,
    )


@login_required
@require_POST
def redemption_undo(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A vendor's member undoes a mistaken scan within UNDO_WINDOW (the service says when it is
    too late); the coupon can be spent again, and the undo is recorded on the redemption."""
    vendor = get_object_or_404(selectors.scanning_vendors_for(request.user), slug=slug)
    redemption = get_object_or_404(
        Redemption.objects.select_related("coupon").filter(vendor=vendor), pk=pk
    )
    try:
        undo_redemption(redemption=redemption, undone_by=_user(request))
    except RedemptionError as error:
        messages.error(request, error.message)
    else:
        coupon = Coupon.objects.only("status").get(pk=redemption.coupon_id)
        if coupon.status == Coupon.Status.ISSUED:
            message = _(
                "Échange annulé : le coupon {serial} ({value}) peut de nouveau être utilisé. "
                "L'annulation est consignée."
            )
        else:
            message = _(
                "Échange annulé : un autre scan hors ligne du coupon {serial} ({value}) devient "
                "l'échange accepté. L'annulation est consignée."
            )
        messages.success(
            request,
            message.format(
                serial=redemption.coupon.serial, value=format_money(redemption.coupon.value)
            ),
        )
    url = reverse("marches:vendor_detail", kwargs={"slug": vendor.slug})
    day = timezone.localdate(redemption.scanned_at)
    if day != timezone.localdate():
        url += "?" + urlencode({"jour": day.isoformat()})
    return redirect(url + "#journee")


# Devices ---------------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def device_list(request: HttpRequest, slug: str) -> HttpResponse:
    vendor = get_object_or_404(selectors.vendors_for(request.user), slug=slug)
    markets = selectors.device_markets_for(request.user, vendor)
    form = DeviceForm(request.POST or None, markets=markets)
    status = 200
    if request.method == "POST":
        if not markets.exists():
            raise PermissionDenied
        if form.is_valid():
            try:
                device, token = create_device(
                    vendor=vendor,
                    market=form.cleaned_data["market"],
                    name=form.cleaned_data["name"],
                    created_by=request.user,  # type: ignore[arg-type]
                )
            except DeviceError as error:
                form.add_error(None, error.message)
            else:
                # Shown once, never stored: the page is not cached and not redirected to.
                return render(
                    request,
                    "marches/device_created.html",
                    {"vendor": vendor, "device": device, "token": token},
                    status=201,
                )
        status = 400
    devices = selectors.devices_for(request.user).filter(vendor=vendor)
    return render(
        request,
        "marches/device_list.html",
        {
            "vendor": vendor,
            "page_obj": _page(request, devices.order_by("-created_at", "-pk")),
            "manageable": set(
                selectors.manageable_devices(request.user)
                .filter(vendor=vendor)
                .values_list("pk", flat=True)
            ),
            "form": form,
            "can_create": markets.exists(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def device_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    vendor = get_object_or_404(selectors.vendors_for(request.user), slug=slug)
    device = get_object_or_404(selectors.manageable_devices(request.user), vendor=vendor, pk=pk)
    if request.method == "POST":
        if device.revoked_at is not None:
            messages.info(request, _("Cet appareil était déjà révoqué."))
        else:
            revoke_device(device=device)
            messages.success(
                request,
                _("L'appareil {device} est révoqué : son jeton ne fonctionne plus.").format(
                    device=device.name
                ),
            )
        return redirect("marches:device_list", slug=vendor.slug)
    return render(request, "marches/device_revoke.html", {"vendor": vendor, "device": device})


# Scanner ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormProblem:
    """A scan the form refused before any lookup, shaped like a Verdict for the fragment."""

    title: str
    detail: str
    status: str = "rejected"
    reason: str = "invalid_request"
    accepted: bool = False
    coupon: None = None


def _client_id(raw: str | None) -> uuid.UUID:
    """The scanner's id for this scan; a missing or malformed one means a new scan."""
    try:
        return uuid.UUID(str(raw or "").strip())
    except ValueError:
        return uuid.uuid4()


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def scanner(request: HttpRequest, slug: str, market_slug: str) -> HttpResponse:
    vendor = get_object_or_404(selectors.scanning_vendors_for(request.user), slug=slug)
    market = get_object_or_404(vendor.markets.all(), slug=market_slug)
    categories = selectors.market_categories(market)
    fetch_mode = request.headers.get("X-Scanner") == "fetch"
    verdict: Any = None
    status = 200
    if request.method == "POST":
        form = ScanForm(request.POST, categories=categories)
        if form.is_valid():
            verdict = redeem_coupon(
                code=form.cleaned_data["code"],
                vendor=vendor,
                market=market,
                client_id=_client_id(request.POST.get("client_id")),
                category=form.cleaned_data["category"],
                recorded_by=request.user,  # type: ignore[arg-type]
            )
            if fetch_mode:
                # The verdict, and the day's totals that scanner.js puts in place.
                return render(
                    request,
                    "marches/_scan_answer.html",
                    {"verdict": verdict, **_day_at_market(vendor, market)},
                    status=verdict.http_status,
                )
            # A new scan starts here: keep the category, and a refused code for correction.
            form = ScanForm(
                initial={
                    "category": form.cleaned_data["category"],
                    "code": "" if verdict.accepted else form.cleaned_data["code"],
                },
                categories=categories,
            )
        else:
            status = 422
            if fetch_mode:
                problem = FormProblem(
                    title=_("Code manquant")
                    if form.has_error("code", "required")
                    else _("Saisie invalide"),
                    detail=" ".join(str(e) for errors in form.errors.values() for e in errors),
                )
                return render(request, "marches/_verdict.html", {"verdict": problem}, status=status)
    else:
        form = ScanForm(categories=categories)
    return render(
        request,
        "marches/scanner.html",
        {
            "vendor": vendor,
            "market": market,
            "form": form,
            "client_id": uuid.uuid4(),
            "verdict": verdict,
            **_day_at_market(vendor, market),
        },
        status=status,
    )


def _day_at_market(vendor: Vendor, market: Market) -> dict[str, Any]:
    """What `marches/_today.html` shows: the vendor's day at this market, and its full page."""
    return {
        "today": selectors.vendor_day(vendor, timezone.localdate(), market=market),
        "day_url": reverse("marches:vendor_detail", kwargs={"slug": vendor.slug}),
    }
