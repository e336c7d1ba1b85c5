from django.urls import path

from coupons import views

app_name = "coupons"

urlpatterns = [
    path("menages/<int:pk>/", views.household_detail, name="household_detail"),
    path("menages/<int:pk>/emettre/", views.household_issue, name="household_issue"),
    path("menages/<int:pk>/coupons.pdf", views.household_pdf, name="household_pdf"),
]
