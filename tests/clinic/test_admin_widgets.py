"""No giant select boxes: every form field of the admin that picks a patient or a staff member
is an autocomplete (or a raw id on a read-only page), in every admin and inline."""

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.test import RequestFactory

from patients.models import Patient

PEOPLE = (Patient, get_user_model())


def _people_fields(model: type[models.Model]) -> set[str]:
    return {
        field.name
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey | models.ManyToManyField | models.OneToOneField)
        and field.related_model in PEOPLE
        and getattr(field, "editable", True)
        and not field.auto_created
    }


def _offenders(
    model_admin: Any, model: type[models.Model], request: Any, where: str, parent_link: str = ""
) -> list[str]:
    picked = set(model_admin.get_autocomplete_fields(request)) | set(model_admin.raw_id_fields)
    readonly = set(model_admin.get_readonly_fields(request))
    shown: set[str] = set()
    for _, options in model_admin.get_fieldsets(request):
        for name in options["fields"]:
            shown.update(name if isinstance(name, list | tuple) else [name])
    return [
        f"{where}.{name}"
        for name in sorted(_people_fields(model) & shown)
        if name not in picked and name not in readonly and name != parent_link
    ]


@pytest.mark.django_db
def test_every_admin_picks_patients_and_staff_by_autocomplete(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    offenders: list[str] = []
    for model, model_admin in admin.site._registry.items():
        # A page that shows a record read-only renders its people as text, not as a select box
        # (some admins allow "change" on the list only, for their actions).
        if not model_admin.has_add_permission(request) and not model_admin.has_change_permission(request, model()):
            continue
        offenders += _offenders(model_admin, model, request, model_admin.__class__.__name__)
        for inline_class in model_admin.inlines:
            inline = inline_class(model, admin.site)
            if inline.has_add_permission(request, model()) or inline.has_change_permission(request, model()):
                # The inline's own link to the page's record is not a field on its form.
                parent = next(
                    (f.name for f in inline.model._meta.get_fields() if getattr(f, "related_model", None) is model),
                    "",
                )
                where = f"{model_admin.__class__.__name__}.{inline_class.__name__}"
                offenders += _offenders(inline, inline.model, request, where, inline.fk_name or parent)
    assert offenders == [], "\n".join(offenders)
