"""Input and output serializers for taper plans, steps, withdrawal checks and check links.

Inputs only validate shape; the services (and the engine behind them) apply the rules.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tapers import ciwa
from tapers.engine import TIMES_OF_DAY
from tapers.equivalence import TABLES
from tapers.models import HoldBand, PlanHold, TaperPlan, TaperPlanVersion, TaperStep, WithdrawalCheck

# --- inputs -----------------------------------------------------------------------------------


class DoseInputSerializer(serializers.Serializer[Any]):
    drug = serializers.CharField(max_length=100, help_text="Generic or brand name, e.g. alprazolam or Xanax.")
    mg = serializers.DecimalField(max_digits=10, decimal_places=4, min_value=0)
    time_of_day = serializers.ChoiceField(choices=list(TIMES_OF_DAY))


class TaperPolicyInputSerializer(serializers.Serializer[Any]):
    """Overrides of the taper policy; anything left out keeps its default (see README)."""

    reduction_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    interval_days = serializers.IntegerField(required=False)
    max_reduction_2_weeks_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    low_dose_threshold_mg_diazepam = serializers.DecimalField(max_digits=8, decimal_places=3, required=False)
    low_dose_step_mg_diazepam = serializers.DecimalField(max_digits=8, decimal_places=3, required=False)
    switch_to_diazepam = serializers.BooleanField(required=False)
    substitution_interval_days = serializers.IntegerField(required=False)
    substitution_order = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=f"Times of day: {', '.join(TIMES_OF_DAY)}."
    )
    use_liquid_below_mg_diazepam = serializers.DecimalField(
        max_digits=8, decimal_places=3, required=False, allow_null=True
    )
    stop_from_mg_diazepam = serializers.DecimalField(max_digits=8, decimal_places=3, required=False)
    target_mg_diazepam = serializers.DecimalField(max_digits=8, decimal_places=3, required=False)
    table = serializers.ChoiceField(choices=sorted(TABLES), required=False)


class TaperPlanPreviewInputSerializer(serializers.Serializer[Any]):
    regimen = DoseInputSerializer(many=True, allow_empty=False)
    policy = TaperPolicyInputSerializer(required=False)
    start_date = serializers.DateField()


class TaperPlanCreateInputSerializer(TaperPlanPreviewInputSerializer):
    patient = serializers.UUIDField()
    episode = serializers.UUIDField(required=False, allow_null=True)
    hold_band = serializers.ChoiceField(choices=HoldBand.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class TaperPlanVersionCreateInputSerializer(TaperPlanPreviewInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class StepInputSerializer(serializers.Serializer[Any]):
    starts_on = serializers.DateField()
    doses = DoseInputSerializer(many=True, allow_empty=True, help_text="Empty: the step that stops.")


class TaperStepsEditInputSerializer(serializers.Serializer[Any]):
    steps = StepInputSerializer(many=True, allow_empty=False)
    regimen = DoseInputSerializer(
        many=True, required=False, help_text="The regimen the steps start from; default: the base version's."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class TaperPlanApproveInputSerializer(serializers.Serializer[Any]):
    digest = serializers.RegexField(
        r"^[0-9a-f]{64}$", help_text="The digest of the version you read (GET …/versions/): what you approve."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class TaperPlanReasonInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField()


class TaperPlanNoteInputSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CiwaVitalsInputSerializer(serializers.Serializer[Any]):
    items = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="The 20 CIWA-B item scores, 0-4, by item key (GET /api/v1/check-links/{token}/ lists them).",
    )
    systolic = serializers.IntegerField(required=False, allow_null=True, default=None)
    diastolic = serializers.IntegerField(required=False, allow_null=True, default=None)
    pulse = serializers.IntegerField(required=False, allow_null=True, default=None)
    temperature_f = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        min_value=90,
        max_value=110,
        required=False,
        allow_null=True,
        default=None,
    )
    symptoms = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class WithdrawalCheckCreateInputSerializer(CiwaVitalsInputSerializer):
    patient = serializers.UUIDField()
    plan = serializers.UUIDField(required=False, allow_null=True, default=None)
    recorded_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class CheckLinkSubmitInputSerializer(CiwaVitalsInputSerializer):
    pass


# --- outputs ----------------------------------------------------------------------------------


class TaperPlanVersionSummarySerializer(serializers.ModelSerializer[TaperPlanVersion]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, allow_null=True)

    class Meta:
        model = TaperPlanVersion
        fields = [
            "id",
            "number",
            "digest",
            "change_note",
            "created_at",
            "created_by",
            "approved_by",
            "approved_at",
            "approval_note",
            "withdrawn_at",
        ]


class TaperPlanVersionOutputSerializer(TaperPlanVersionSummarySerializer):
    inputs = serializers.JSONField(read_only=True, help_text="Regimen, policy, strengths used and start date.")
    steps = serializers.JSONField(source="proposed_steps", read_only=True, help_text="The steps as proposed.")

    class Meta(TaperPlanVersionSummarySerializer.Meta):
        fields = [*TaperPlanVersionSummarySerializer.Meta.fields, "inputs", "steps"]


class PlanHoldOutputSerializer(serializers.ModelSerializer[PlanHold]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    withdrawal_check = serializers.UUIDField(source="withdrawal_check.public_id", read_only=True, allow_null=True)
    why = serializers.SerializerMethodField()
    consider_higher_level_of_care = serializers.SerializerMethodField()
    step = serializers.IntegerField(source="step.number", read_only=True, allow_null=True)
    held_by = serializers.CharField(source="held_by.username", read_only=True, allow_null=True)
    resumed_by = serializers.CharField(source="resumed_by.username", read_only=True, allow_null=True)

    class Meta:
        model = PlanHold
        fields = [
            "id",
            "held_on",
            "step",
            "reason",
            "withdrawal_check",
            "why",
            "consider_higher_level_of_care",
            "held_by",
            "resumed_on",
            "resumed_by",
            "days_shifted",
            "resume_note",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_why(self, hold: PlanHold) -> list[str]:
        """The reasons: the check's (band, blood pressure, pulse) or the manual reason."""
        check = hold.withdrawal_check
        return list(check.reasons) if check is not None else [hold.reason]

    def get_consider_higher_level_of_care(self, hold: PlanHold) -> bool:
        return bool(hold.withdrawal_check and hold.withdrawal_check.consider_higher_level_of_care)


class TaperPlanOutputSerializer(serializers.ModelSerializer[TaperPlan]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    episode = serializers.UUIDField(source="episode.public_id", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    current_version = TaperPlanVersionSummarySerializer(read_only=True, allow_null=True)
    pending_version = serializers.SerializerMethodField()
    open_hold = serializers.SerializerMethodField()
    holds = serializers.SerializerMethodField()

    class Meta:
        model = TaperPlan
        fields = [
            "id",
            "patient",
            "episode",
            "status",
            "hold_band",
            "created_at",
            "created_by",
            "activated_on",
            "ended_on",
            "end_reason",
            "current_version",
            "pending_version",
            "open_hold",
            "holds",
        ]

    @extend_schema_field(TaperPlanVersionSummarySerializer(allow_null=True))
    def get_pending_version(self, plan: TaperPlan) -> dict[str, Any] | None:
        """The version waiting for a prescriber's approval, if any."""
        pending = getattr(plan, "pending_versions", None)
        if pending is None:
            pending = list(plan.versions.filter(approved_at__isnull=True, withdrawn_at__isnull=True))
        return dict(TaperPlanVersionSummarySerializer(pending[0]).data) if pending else None

    def _holds(self, plan: TaperPlan) -> list[PlanHold]:
        holds = getattr(plan, "all_holds", None)
        return holds if holds is not None else list(plan.holds.all())

    @extend_schema_field(PlanHoldOutputSerializer(allow_null=True))
    def get_open_hold(self, plan: TaperPlan) -> dict[str, Any] | None:
        """Why the plan is held, while it is."""
        open_holds = [h for h in self._holds(plan) if h.resumed_on is None]
        return dict(PlanHoldOutputSerializer(open_holds[0]).data) if open_holds else None

    @extend_schema_field(PlanHoldOutputSerializer(many=True))
    def get_holds(self, plan: TaperPlan) -> list[dict[str, Any]]:
        """Every hold, newest first, with the days each shifted the later steps."""
        return [dict(row) for row in PlanHoldOutputSerializer(self._holds(plan), many=True).data]


class TaperStepOutputSerializer(serializers.ModelSerializer[TaperStep]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    doses = serializers.JSONField(read_only=True, help_text='{"bedtime": [{"drug", "mg", "made_from", "liquid"}]}')
    totals_mg = serializers.JSONField(read_only=True)
    days_shifted = serializers.SerializerMethodField()

    class Meta:
        model = TaperStep
        fields = [
            "id",
            "version",
            "number",
            "status",
            "planned_on",
            "starts_on",
            "days_shifted",
            "doses",
            "totals_mg",
            "dze_low_mg",
            "dze_high_mg",
            "cut_percent",
            "rule",
            "reason",
            "manual",
        ]

    def get_days_shifted(self, step: TaperStep) -> int:
        """Days the step moved after approval (holds), 0 when on its approved date."""
        return (step.starts_on - step.planned_on).days


class TaperPlanPreviewOutputSerializer(serializers.Serializer[Any]):
    inputs = serializers.JSONField()
    steps = serializers.JSONField(help_text="The steps the engine proposes, as a version would hold them.")
    digest = serializers.CharField()
    baseline_dze_low_mg = serializers.CharField()
    baseline_dze_high_mg = serializers.CharField()


class WithdrawalCheckOutputSerializer(serializers.ModelSerializer[WithdrawalCheck]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    plan = serializers.UUIDField(source="plan.public_id", read_only=True, allow_null=True)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True, allow_null=True)
    items = serializers.JSONField(read_only=True)
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = WithdrawalCheck
        fields = [
            "id",
            "patient",
            "plan",
            "items",
            "total",
            "band",
            "systolic",
            "diastolic",
            "pulse",
            "temperature_f",
            "symptoms",
            "via",
            "recorded_by",
            "recorded_at",
            "hold",
            "consider_higher_level_of_care",
            "reasons",
            "alerted_at",
        ]


class CheckLinkCreatedOutputSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    url = serializers.URLField(help_text="Shown once: only a hash of its token is kept.")
    expires_at = serializers.DateTimeField()


class CiwaItemOutputSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    number = serializers.IntegerField()
    text = serializers.CharField()
    observed = serializers.BooleanField(help_text="Rated by a clinician on the scale; on the link, by the patient.")


class CheckLinkFormOutputSerializer(serializers.Serializer[Any]):
    """What the form needs, nothing more: no name, no drug, no plan."""

    expires_at = serializers.DateTimeField()
    items = CiwaItemOutputSerializer(many=True)
    scale = serializers.DictField(child=serializers.CharField())


class CheckLinkSubmittedOutputSerializer(serializers.Serializer[Any]):
    message = serializers.CharField()


SCALE = {"0": "not at all", "1": "mild", "2": "moderate", "3": "severe", "4": "very severe"}


def check_link_form(expires_at: Any) -> dict[str, Any]:
    items = [{"key": i.key, "number": i.number, "text": i.label, "observed": i.observed} for i in ciwa.ITEMS]
    return {"expires_at": expires_at, "items": items, "scale": SCALE}
