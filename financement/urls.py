"""URLs of the funding app (namespace "financement"): donations and the webhook here, the funds
pages in funding_urls.py."""

from django.urls import URLPattern

from financement import funding_urls

app_name = "financement"

urlpatterns: list[URLPattern] = []
urlpatterns += funding_urls.urlpatterns
