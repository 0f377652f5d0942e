"""The raw X12 of an eligibility check as a download, for the API and the admin alike."""

from __future__ import annotations

from django.http import HttpResponse

from insurance.models import EligibilityCheck


def raw_x12_response(check: EligibilityCheck, kind: str) -> HttpResponse | None:
    """The 270 as built or the 271 as received, in the bytes it came in; None when there is none."""
    if kind == "270":
        data, encoding = check.raw_270, "ascii"
    else:
        data, encoding = check.raw_271, check.raw_271_encoding
    if not data:
        return None
    response = HttpResponse(data.encode(encoding), content_type=f"text/plain; charset={encoding}")
    response["Content-Disposition"] = f'attachment; filename="{check.trace_number}.{kind}"'
    # It names the patient: no shared cache may keep it.
    response["Cache-Control"] = "private, no-store"
    return response
