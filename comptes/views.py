from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from comptes import selectors, services
from comptes.forms import AcceptNewAccountForm, InvitationForm
from comptes.models import Invitation, User
from comptes.services import InvitationError

INVITATIONS_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "comptes/home.html",
        {
            "groups": selectors.workspace_groups(user),
            "can_invite": bool(selectors.invitable_roles(user)),
        },
    )


@login_required
def invitation_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    paginator = Paginator(selectors.invitations_for(user), INVITATIONS_PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "comptes/invitation_list.html",
        {
            "page_obj": page_obj,
            "invitations": page_obj.object_list,
            "can_invite": bool(selectors.invitable_roles(user)),
        },
    )


def _initial_from_query(request: HttpRequest, form: InvitationForm) -> dict[str, str]:
    """`?role=coordinator&scope=<pk>` preselects a role and a place, if they are allowed."""
    role = request.GET.get("role", "")
    scope = request.GET.get("scope", "")
    initial: dict[str, str] = {}
    if role in form.roles:
        initial["role"] = role
        value = f"{role}:{scope}"
        if any(str(s.pk) == scope for s in form.roles[role].scopes):
            initial["scope"] = value
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def invitation_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    roles = selectors.invitable_roles(user)
    if not roles:
        return render(request, "comptes/invitation_form.html", {"form": None})
    if request.method == "POST":
        form = InvitationForm(request.POST, roles=roles)
        if form.is_valid():
            try:
                invitation, _token = services.create_invitation(
                    inviter=user,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    scope=form.cleaned_data["scope_object"],
                    absolute_url=request.build_absolute_uri,
                )
            except InvitationError as exc:
                field = {"invalid_email": "email", "forbidden_scope": "scope"}.get(exc.code)
                form.add_error(field, exc.message)
            else:
                messages.success(
                    request,
                    _("Invitation envoyée à {email}.").format(email=invitation.email),
                )
                return redirect("comptes_invitations")
    else:
        form = InvitationForm(roles=roles)
        form.initial = _initial_from_query(request, form)
    return render(request, "comptes/invitation_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    invitation = get_object_or_404(selectors.invitations_for(user), pk=pk)
    if request.method == "POST":
        try:
            services.revoke_invitation(invitation=invitation, by=user)
        except InvitationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("L'invitation de {email} est révoquée.").format(email=invitation.email),
            )
        return redirect("comptes_invitations")
    if not invitation.is_pending:
        messages.error(request, _("Seule une invitation en attente peut être révoquée."))
        return redirect("comptes_invitations")
    return render(request, "comptes/invitation_revoke.html", {"invitation": invitation})


_ERROR_STATUS = {"invalid": 404}


def _invitation_error(request: HttpRequest, error: InvitationError) -> HttpResponse:
    return render(
        request,
        "comptes/invitation_error.html",
        {"error": error},
        status=_ERROR_STATUS.get(error.code, 410),
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.check_invitation(token=token)
    except InvitationError as exc:
        return _invitation_error(request, exc)

    scope_model = invitation.scope_type.model_class()
    context = {
        "invitation": invitation,
        "scope": invitation.scope,
        "scope_kind": scope_model._meta.verbose_name if scope_model else "",
    }
    account = selectors.existing_account(invitation.email)
    if account is not None:
        signed_in_as_invitee = request.user.is_authenticated and request.user.pk == account.pk
        if request.method == "POST" and signed_in_as_invitee:
            try:
                services.accept_invitation(token=token)
            except InvitationError as exc:
                return _invitation_error(request, exc)
            return _welcome(request, invitation)
        login_url = reverse("account_login") + "?" + urlencode({"next": request.path})
        return render(
            request,
            "comptes/invitation_accept.html",
            {
                **context,
                "has_account": True,
                "signed_in_as_invitee": signed_in_as_invitee,
                "login_url": login_url,
            },
        )

    form = AcceptNewAccountForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                token=token,
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
            )
        except InvitationError as exc:
            if exc.code not in {"invalid_password", "password_required"}:
                return _invitation_error(request, exc)
            form.add_error("password1", exc.messages)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return _welcome(request, invitation)
    return render(
        request,
        "comptes/invitation_accept.html",
        {**context, "has_account": False, "form": form},
    )


def _welcome(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    messages.success(
        request,
        _("Invitation acceptée : vous avez maintenant le rôle « {role} » pour {scope}.").format(
            role=invitation.role_label, scope=invitation.scope
        ),
    )
    return redirect("accueil")
