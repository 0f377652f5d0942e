"""The project's routes as the URL resolver knows them, with the methods each view answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"


@dataclass(frozen=True)
class Route:
    route: str  # the full pattern, as the resolver prints it
    name: str | None
    methods: tuple[str, ...]
    basename: str | None  # the router's basename, for viewset routes
    needs_id: bool

    @property
    def is_api(self) -> bool:
        return self.route.startswith(API_PREFIX)


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(callback: Any) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset route: the router's method -> action map
        return tuple(sorted(method.upper() for method in actions))
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is not None:  # an APIView or a Django class-based view
        return tuple(
            sorted(m.upper() for m in view.http_method_names if hasattr(view, m) and m not in ("head", "options"))
        )
    return ()  # a function view: any method; its rows list the ones that matter


def all_routes() -> list[Route]:
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        initkwargs = getattr(callback, "initkwargs", {}) or {}
        routes.append(
            Route(
                route=route,
                name=pattern.name,
                methods=_methods(callback),
                basename=initkwargs.get("basename"),
                needs_id="(?P<id>" in route,
            )
        )
    return routes
