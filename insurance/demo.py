"""Demo payers, coverages and an authorization, for `make run`. Safe to run again."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from clinic.apps import Writer


def seed_insurance(out: Writer) -> None:
    from django.contrib.auth import get_user_model

    from insurance.models import Authorization, Coverage, Payer
    from insurance.services.authorizations import authorization_usage_refresh
    from patients.models import LevelOfCareStay, Patient

    payers = [
        Payer.objects.get_or_create(name=name, defaults={"payer_id": payer_id, "phone": phone, "portal_url": portal})[0]
        for name, payer_id, phone, portal in [
            ("Demo Health Plan", "DEMO01", "+16175550100", "https://provider.demo-health.example"),
            ("Demo Medicaid", "DEMOMCD", "+16175550111", ""),
        ]
    ]
    today = timezone.localdate()
    by = get_user_model().objects.filter(is_superuser=True).first() or get_user_model().objects.first()
    if by is None:
        return
    created = 0
    for index, patient in enumerate(Patient.objects.filter(episodes__discharged_on__isnull=True).distinct()[:10]):
        if patient.coverages.exists():
            continue
        coverage = Coverage.objects.create(
            patient=patient,
            payer=payers[index % len(payers)],
            member_id=f"DEMO{patient.pk:08d}",
            group_number="G-1000" if index % 2 == 0 else "",
            plan_name="Demo PPO" if index % 2 == 0 else "Demo Medicaid Managed Care",
            effective_on=today - timedelta(days=180),
            created_by=by,
        )
        stay = (
            LevelOfCareStay.objects.filter(
                episode__patient=patient, episode__discharged_on__isnull=True, ended_on__isnull=True
            )
            .select_related("level")
            .first()
        )
        if stay is not None and stay.level.code in ("php", "iop"):
            authorization = Authorization.objects.create(
                coverage=coverage,
                level=stay.level,
                number=f"AUTH-{patient.pk:06d}",
                status="approved",
                requested_on=stay.started_on,
                decided_on=stay.started_on,
                starts_on=stay.started_on,
                ends_on=stay.started_on + timedelta(days=30),
                unit="day",
                units_authorized=15 if stay.level.code == "php" else 12,
                next_review_on=today + timedelta(days=3),
                created_by=by,
            )
            authorization_usage_refresh(authorization)
        created += 1
    out.write(f"insurance: {len(payers)} payers, {created} new coverages")
