from django.urls import path

from programmes import views

app_name = "programmes"

urlpatterns = [
    path("programmes/", views.program_list, name="program_list"),
    path("programmes/nouveau/", views.program_create, name="program_create"),
    path("programmes/<slug:slug>/parametres/", views.program_edit, name="program_edit"),
]
