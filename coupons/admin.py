"""Admin: read-only. Coupons and batches are the money trail; they change through services."""

from django.contrib import admin

from coupons.models import Coupon, IssuanceBatch


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(IssuanceBatch)
class IssuanceBatchAdmin(_ReadOnlyAdmin):
    list_display = [
        "__str__",
        "program",
        "kind",
        "household",
        "organization",
        "coupon_count",
        "total_value",
        "issued_by",
        "issued_at",
    ]
    list_filter = ["program", "kind"]
    search_fields = ["household__reference", "organization__name"]
    list_select_related = ["program", "household", "organization", "issued_by"]
    date_hierarchy = "issued_at"


@admin.register(Coupon)
class CouponAdmin(_ReadOnlyAdmin):
    """The manual code is a bearer secret: it is never shown here."""

    list_display = [
        "serial",
        "program",
        "household",
        "value",
        "valid_from",
        "valid_until",
        "status",
    ]
    list_filter = ["program", "status"]
    search_fields = ["serial", "household__reference"]
    list_select_related = ["program", "household"]
    exclude = ["code"]
