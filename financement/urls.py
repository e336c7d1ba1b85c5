"""URLs of the funding app (namespace "financement"): donations and the webhook here, the funds
pages in funding_urls.py, the funders' API tokens in access_urls.py."""

from django.urls import URLPattern, path

from financement import access_urls, donation_views, funding_urls, webhooks

app_name = "financement"

urlpatterns: list[URLPattern] = [
    # Public (no account): the donation form, its thank-you page, the receipt behind a signed link.
    path("dons/<slug:slug>/", donation_views.donation_form, name="donation_form"),
    path("dons/<slug:slug>/merci/", donation_views.donation_thanks, name="donation_thanks"),
    path("dons/recu/<str:token>.pdf", donation_views.donation_receipt, name="donation_receipt"),
    # Stripe's calls, verified by their signature.
    path("stripe/webhook", webhooks.stripe_webhook, name="stripe_webhook"),
]
urlpatterns += funding_urls.urlpatterns
urlpatterns += access_urls.urlpatterns
