from typing import Any

from django.http import HttpRequest

from comptes.registry import workspaces_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The places the signed-in user works in, computed once per request when a page asks."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"workspaces": []}

    cache: dict[str, Any] = {}

    def lazy() -> list[Any]:
        if "value" not in cache:
            cache["value"] = workspaces_for(user)  # type: ignore[arg-type]
        return cache["value"]  # type: ignore[no-any-return]

    return {"workspaces": lazy}
