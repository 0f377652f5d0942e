"""The admissions desk's start page: what is waiting today, from every app, each a count and a
link to the filtered list that holds it.

`clinic` imports no higher app: each app's AppConfig contributes its own panels
(`DomainAppConfig.desk_panels`), counted for the user looking (their roles and, for clinical
staff, their care teams' patients only).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from clinic.apps import domain_app_configs


@dataclass(frozen=True)
class DeskPanel:
    title: str
    count: int
    url: str
    hint: str = ""  # what the count is, in words
    order: int = 100  # the desk's reading order: today's work first


def desk_panels(request: HttpRequest) -> list[DeskPanel]:
    panels: list[DeskPanel] = []
    for config in domain_app_configs():
        panels += config.desk_panels(request)
    return sorted(panels, key=lambda panel: (panel.order, panel.title))
