from django.contrib import admin

from marches.models import Device, Market, Redemption, ScanRejection, Vendor


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "slug"]
    search_fields = ["name", "city", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["programs", "managers"]


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    list_filter = ["markets"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["markets", "categories", "members"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Devices are made on the vendor's page (the token is shown once); here they are read."""

    list_display = [
        "name",
        "vendor",
        "market",
        "token_prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["market"]
    search_fields = ["name", "vendor__name", "token_prefix"]
    list_select_related = ["vendor", "market"]
    readonly_fields = [
        "vendor",
        "market",
        "token_hash",
        "token_prefix",
        "created_by",
        "created_at",
        "last_used_at",
    ]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    """The money ledger: read-only."""

    list_display = ["coupon", "vendor", "market", "value", "category", "scanned_at", "recorded_at"]
    list_filter = ["market", "status"]
    search_fields = ["coupon__serial", "vendor__name", "market__name"]
    list_select_related = ["coupon", "vendor", "market", "category"]
    date_hierarchy = "recorded_at"

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ScanRejection)
class ScanRejectionAdmin(admin.ModelAdmin):
    list_display = ["reason", "coupon", "vendor", "market", "scanned_at", "recorded_at"]
    list_filter = ["reason", "market"]
    search_fields = ["coupon__serial", "vendor__name"]
    list_select_related = ["coupon", "vendor", "market"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
