"""URLs of the coupons app. Each views module lists its own `urlpatterns`."""

from django.urls import URLPattern, path

from coupons import print_views, views, wallet_views

app_name = "coupons"

urlpatterns: list[URLPattern] = [
    path("menages/<int:pk>/", views.household_detail, name="household_detail"),
    path("menages/<int:pk>/emettre/", views.household_issue, name="household_issue"),
    path("menages/<int:pk>/coupons.pdf", views.household_pdf, name="household_pdf"),
]
urlpatterns += print_views.urlpatterns
urlpatterns += wallet_views.urlpatterns
