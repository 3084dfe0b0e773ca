"""Views of signing in and out: passwords, two-factor codes, the inactivity sign-out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from . import passwords, tasks, twofactor
from .auth import client_address
from .forms import LoginForm, PasswordChangeForm, SetPasswordForm, TwoFactorCodeForm, TwoFactorConfirmForm
from .lockout import account_unlock
from .views import too_many_requests


def _safe_next(request: HttpRequest, default: str = "home") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer whether or not an account uses the address; the email is sent by a
    worker, at most PASSWORD_RESET_PER_ADDRESS times per window, and one client may ask
    at most PASSWORD_RESET_PER_CLIENT times (then 429, for any address)."""

    def form_valid(self, form) -> HttpResponse:
        email = form.cleaned_data["email"]
        client_ok, address_ok, retry_after = passwords.reset_request_allowed(
            email=email, client=client_address(self.request)
        )
        if not client_ok:
            return too_many_requests(self.request, retry_after)
        if address_ok:
            tasks.password_reset_send.delay(email)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A new password set through the emailed link also lifts a sign-in lock on the
    account: the person has just proved they read its email."""

    form_class = SetPasswordForm

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        account_unlock(user=form.user)
        return response


@never_cache
@require_safe
def signed_out_idle(request: HttpRequest) -> HttpResponse:
    minutes = max(1, settings.STAFF_IDLE_TIMEOUT // 60)
    return render(
        request,
        "registration/signed_out_idle.html",
        {"minutes": minutes, "next": _safe_next(request, default="home")},
    )


# --- Two-factor sign-in -------------------------------------------------------------------


@never_cache
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    step = twofactor.step_owed(request)
    if step is None:
        return redirect(_safe_next(request))
    if step == "setup":
        return redirect(reverse("two_factor_setup"))
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = twofactor.seconds_to_wait(user)
        if wait:
            # django-otp doubles the wait after each wrong code; the code is not checked.
            form.add_error(
                "code",
                ngettext(
                    "Too many wrong codes. Wait %(n)d second, then type the newest code.",
                    "Too many wrong codes. Wait %(n)d seconds, then type the newest code.",
                    wait,
                )
                % {"n": wait},
            )
        else:
            device = twofactor.code_check(user=user, code=form.cleaned_data["code"])
            if device is not None:
                twofactor.login_completed(request=request, device=device)
                if twofactor.is_recovery_code(device):
                    left = twofactor.recovery_codes_left(user)
                    messages.warning(
                        request,
                        ngettext(
                            "You signed in with a recovery code. %(n)d code is left: make new ones on your "
                            "sign-in security page.",
                            "You signed in with a recovery code. %(n)d codes are left: make new ones on "
                            "your sign-in security page.",
                            left,
                        )
                        % {"n": left},
                    )
                return redirect(_safe_next(request))
            form.add_error("code", _("That code is not right. Type the newest code your app shows."))
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": _safe_next(request)})


@never_cache
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if twofactor.has_two_factor(user) and not user.is_verified():
        # Someone with only the password must never replace the owner's app.
        return redirect(reverse("two_factor_verify"))
    device = twofactor.authenticator_pending(user=user)
    form = TwoFactorConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = twofactor.authenticator_confirm(user=user, code=form.cleaned_data["code"])
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            twofactor.login_completed(request=request, device=device)
            return _recovery_codes_page(request, codes, _safe_next(request))
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": twofactor.authenticator_qr_svg(device),
            "secret": twofactor.authenticator_secret(device),
            "required": twofactor.must_use_two_factor(user),
            "next": _safe_next(request),
        },
    )


def _recovery_codes_page(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    return render(
        request,
        "registration/two_factor_recovery_codes.html",
        {"codes": [twofactor.format_recovery_code(code) for code in codes], "next": next_url},
    )


@never_cache
@login_required
def two_factor_manage(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "registration/two_factor_manage.html",
        {
            "enabled": twofactor.has_two_factor(user),
            "required": twofactor.must_use_two_factor(user),
            "codes_left": twofactor.recovery_codes_left(user),
        },
    )


@never_cache
@login_required
@require_POST
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    try:
        codes = twofactor.recovery_codes_replace(user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("two_factor_manage")
    return _recovery_codes_page(request, codes, reverse("two_factor_manage"))


@never_cache
@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    try:
        twofactor.two_factor_remove(user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Two-step sign-in is off. Signing in now needs only your password."))
    return redirect("two_factor_manage")
