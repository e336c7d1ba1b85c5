"""Admin: read-mostly. Households and consents are personal data, written only through the
enrollment page (which records consent); here staff can look and fix memberships."""

from django.contrib import admin

from beneficiaires.models import Consent, Household, Organization, Partnership


class PartnershipInline(admin.TabularInline):
    model = Partnership
    extra = 0
    fields = ["program", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["program"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]
    inlines = [PartnershipInline]


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    can_delete = False
    fields = ["purpose", "text_version", "given_at", "recorded_by", "withdrawn_at"]
    readonly_fields = ["purpose", "text_version", "given_at", "recorded_by", "withdrawn_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["reference", "program", "organization", "adults", "children", "enrolled_at"]
    list_filter = ["program", "organization"]
    search_fields = ["reference"]
    list_select_related = ["program", "organization"]
    # Never the name, contact details or notes: the admin writes no audit row, so it shows no
    # personal data (the household's page does, and records who looked).
    fields = [
        "program",
        "organization",
        "reference",
        "adults",
        "children",
        "postal_code",
        "preferred_language",
        "status",
        "duplicate_review",
        "enrolled_by",
        "enrolled_at",
        "anonymized_at",
    ]
    readonly_fields = [
        "status",
        "duplicate_review",
        "anonymized_at",
        "program",
        "organization",
        "reference",
        "adults",
        "children",
        "postal_code",
        "preferred_language",
        "enrolled_by",
        "enrolled_at",
    ]
    inlines = [ConsentInline]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["household", "purpose", "text_version", "given_at", "withdrawn_at"]
    list_filter = ["purpose", "text_version"]
    search_fields = ["household__reference"]
    list_select_related = ["household"]
    readonly_fields = ["household", "purpose", "text_version", "given_at", "recorded_by"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
