"""URLs of the coupons app. Each views module lists its own `urlpatterns`."""

from django.urls import URLPattern, path

from coupons import batch_views, print_views, sale_views, views, wallet_views

app_name = "coupons"

urlpatterns: list[URLPattern] = [
    path("menages/<int:pk>/", views.household_detail, name="household_detail"),
    path("menages/<int:pk>/emettre/", views.household_issue, name="household_issue"),
    path("menages/<int:pk>/coupons.pdf", views.household_pdf, name="household_pdf"),
    path("menages/<int:pk>/coupons/annuler/", batch_views.household_void, name="household_void"),
    path("programmes/<slug:slug>/lots/", batch_views.program_batches, name="program_batches"),
    path(
        "programmes/<slug:slug>/lots/nouveau/",
        batch_views.bearer_batch_create,
        name="bearer_batch_create",
    ),
    path("lots/<int:pk>/", batch_views.batch_detail, name="batch_detail"),
    path("lots/<int:pk>/remis/", batch_views.batch_deliver, name="batch_deliver"),
    path("lots/<int:pk>/annuler/", batch_views.batch_void, name="batch_void"),
    path("coupons/<int:pk>/", batch_views.coupon_detail, name="coupon_detail"),
]
urlpatterns += print_views.urlpatterns
urlpatterns += wallet_views.urlpatterns
urlpatterns += sale_views.urlpatterns
