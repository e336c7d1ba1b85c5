"""Stub: replaced by its owner (the funds pages)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
