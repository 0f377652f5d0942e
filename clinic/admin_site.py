"""The admin site: Django's, with the desk's start page (clinic.desk) above the app list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from clinic.desk import desk_panels


class DeskAdminSite(admin.AdminSite):
    site_header = "Clinic administration"
    site_title = "Clinic administration"
    index_title = "Admissions desk"
    index_template = "admin/desk_index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        return super().index(request, {"desk_panels": desk_panels(request), **(extra_context or {})})
