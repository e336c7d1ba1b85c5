"""Admin: read-mostly. Programs are created and configured on their own pages (services check
the rules); here staff can look, fix who coordinates, and manage the category list."""

from django.contrib import admin

from programmes.models import AllotmentRule, Denomination, ProductCategory, Program, Territory


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(ProductCategory)
class ProductCategoryAdmin(admin.ModelAdmin):
    list_display = ["name_fr", "name_en", "slug"]
    search_fields = ["name_fr", "name_en", "slug"]
    prepopulated_fields = {"slug": ["name_fr"]}


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class DenominationInline(_ReadOnlyInline):
    model = Denomination
    fields = ["value"]
    readonly_fields = ["value"]


class AllotmentRuleInline(_ReadOnlyInline):
    model = AllotmentRule
    fields = ["household_size", "amount"]
    readonly_fields = ["household_size", "amount"]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "territory", "season_start", "season_end", "serial_prefix"]
    list_filter = ["territory__kind"]
    search_fields = ["name", "slug", "territory__name"]
    list_select_related = ["territory"]
    filter_horizontal = ["coordinators"]
    inlines = [DenominationInline, AllotmentRuleInline]
    fields = [
        "name",
        "slug",
        "territory",
        "season_start",
        "season_end",
        "currency",
        "serial_prefix",
        "distribution_count",
        "distribution_frequency",
        "categories",
        "coordinators",
        "created_at",
    ]
    readonly_fields = [
        "name",
        "slug",
        "territory",
        "season_start",
        "season_end",
        "currency",
        "serial_prefix",
        "distribution_count",
        "distribution_frequency",
        "categories",
        "created_at",
    ]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
