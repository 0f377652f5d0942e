"""Tapers: taper plans, versions, steps, holds, withdrawal checks and check links.

The operations are Django's (makemigrations); the RunSQL at the end makes an approved version,
and its steps' doses, immutable in the database itself (see tapers/models/plans.py).
"""

import uuid

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

# A prescriber approved exactly this version (its digest): nothing may change it afterwards,
# whoever writes (the app has no code path that does; this also stops a script, psql or a
# bug). A draft's content is fixed from the start too (an edit is a new version); only the
# approval (once) or the withdrawal of a draft may be written. A step of an approved version
# may change its status and move later (a hold), nothing else; no step is added to or removed
# from an approved version.
IMMUTABLE_APPROVED_VERSIONS = """
CREATE FUNCTION tapers_version_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.approved_at IS NOT NULL THEN
            RAISE EXCEPTION 'taper plan version % is approved and cannot be deleted', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.approved_at IS NOT NULL THEN
        RAISE EXCEPTION 'taper plan version % is approved and cannot be changed', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.inputs IS DISTINCT FROM OLD.inputs OR NEW.proposed_steps IS DISTINCT FROM OLD.proposed_steps
        OR NEW.digest IS DISTINCT FROM OLD.digest OR NEW.plan_id IS DISTINCT FROM OLD.plan_id
        OR NEW.number IS DISTINCT FROM OLD.number OR NEW.created_by_id IS DISTINCT FROM OLD.created_by_id THEN
        RAISE EXCEPTION 'taper plan version % cannot be edited; make a new version', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tapers_version_immutable
    BEFORE UPDATE OR DELETE ON tapers_taperplanversion
    FOR EACH ROW EXECUTE FUNCTION tapers_version_refuse_change();

CREATE FUNCTION tapers_step_refuse_change() RETURNS trigger AS $$
DECLARE
    approved boolean;
BEGIN
    SELECT approved_at IS NOT NULL INTO approved FROM tapers_taperplanversion
        WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.version_id ELSE NEW.version_id END);
    IF TG_OP = 'INSERT' THEN
        IF approved THEN
            RAISE EXCEPTION 'taper plan version % is approved: no step can be added', NEW.version_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF approved THEN
            RAISE EXCEPTION 'step % belongs to an approved version and cannot be deleted', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF approved AND (
        NEW.version_id IS DISTINCT FROM OLD.version_id OR NEW.plan_id IS DISTINCT FROM OLD.plan_id
        OR NEW.number IS DISTINCT FROM OLD.number OR NEW.planned_on IS DISTINCT FROM OLD.planned_on
        OR NEW.doses IS DISTINCT FROM OLD.doses OR NEW.totals_mg IS DISTINCT FROM OLD.totals_mg
        OR NEW.dze_low_mg IS DISTINCT FROM OLD.dze_low_mg OR NEW.dze_high_mg IS DISTINCT FROM OLD.dze_high_mg
        OR NEW.cut_percent IS DISTINCT FROM OLD.cut_percent OR NEW.rule IS DISTINCT FROM OLD.rule
        OR NEW.reason IS DISTINCT FROM OLD.reason OR NEW.manual IS DISTINCT FROM OLD.manual
    ) THEN
        RAISE EXCEPTION 'step % belongs to an approved version: only its status and start date may change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tapers_step_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON tapers_taperstep
    FOR EACH ROW EXECUTE FUNCTION tapers_step_refuse_change();
"""

DROP_IMMUTABLE_APPROVED_VERSIONS = """
DROP TRIGGER IF EXISTS tapers_step_immutable ON tapers_taperstep;
DROP FUNCTION IF EXISTS tapers_step_refuse_change();
DROP TRIGGER IF EXISTS tapers_version_immutable ON tapers_taperplanversion;
DROP FUNCTION IF EXISTS tapers_version_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tapers", "0002_ledger"),
        ("patients", "0010_intake_wording"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TaperPlan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft (no version approved yet)"),
                            ("approved", "Approved, not started"),
                            ("active", "Active"),
                            ("held", "Held"),
                            ("completed", "Completed"),
                            ("stopped", "Stopped"),
                        ],
                        default="draft",
                        max_length=16,
                    ),
                ),
                (
                    "hold_band",
                    models.CharField(
                        choices=[
                            ("mild", "Mild (1-20)"),
                            ("moderate", "Moderate (21-40)"),
                            ("severe", "Severe (41-60)"),
                            ("very_severe", "Very severe (61-80)"),
                        ],
                        default="moderate",
                        max_length=16,
                    ),
                ),
                ("activated_on", models.DateField(blank=True, null=True)),
                (
                    "ended_on",
                    models.DateField(blank=True, help_text="When the plan was completed or stopped.", null=True),
                ),
                ("end_reason", models.TextField(blank=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "episode",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="taper_plans",
                        to="patients.episodeofcare",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="taper_plans", to="patients.patient"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="CheckLink",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("expires_at", models.DateTimeField()),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="check_links", to="patients.patient"
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="check_links", to="tapers.taperplan"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="TaperPlanVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("number", models.PositiveIntegerField()),
                ("inputs", models.JSONField()),
                ("proposed_steps", models.JSONField()),
                ("digest", models.CharField(max_length=64)),
                ("change_note", models.TextField(blank=True, help_text="Why this version was made.")),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("approval_note", models.TextField(blank=True)),
                ("withdrawn_at", models.DateTimeField(blank=True, null=True)),
                (
                    "approved_as",
                    models.ForeignKey(
                        blank=True,
                        help_text="The prescriber record of the approver at the time.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="approved_taper_versions",
                        to="tapers.prescriber",
                    ),
                ),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="versions", to="tapers.taperplan"
                    ),
                ),
            ],
            options={
                "ordering": ["plan_id", "number"],
            },
        ),
        migrations.AddField(
            model_name="taperplan",
            name="current_version",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tapers.taperplanversion",
            ),
        ),
        migrations.CreateModel(
            name="HistoricalTaperPlan",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("public_id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft (no version approved yet)"),
                            ("approved", "Approved, not started"),
                            ("active", "Active"),
                            ("held", "Held"),
                            ("completed", "Completed"),
                            ("stopped", "Stopped"),
                        ],
                        default="draft",
                        max_length=16,
                    ),
                ),
                (
                    "hold_band",
                    models.CharField(
                        choices=[
                            ("mild", "Mild (1-20)"),
                            ("moderate", "Moderate (21-40)"),
                            ("severe", "Severe (41-60)"),
                            ("very_severe", "Very severe (61-80)"),
                        ],
                        default="moderate",
                        max_length=16,
                    ),
                ),
                ("activated_on", models.DateField(blank=True, null=True)),
                (
                    "ended_on",
                    models.DateField(blank=True, help_text="When the plan was completed or stopped.", null=True),
                ),
                ("end_reason", models.TextField(blank=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "episode",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.episodeofcare",
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                (
                    "current_version",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tapers.taperplanversion",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical taper plan",
                "verbose_name_plural": "historical taper plans",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="TaperStep",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("number", models.PositiveIntegerField()),
                ("planned_on", models.DateField(help_text="The start date as approved.")),
                ("starts_on", models.DateField(help_text="The start date now: later than planned_on after a hold.")),
                ("doses", models.JSONField()),
                ("totals_mg", models.JSONField(help_text='{"diazepam": "18"}: mg a day per drug.')),
                ("dze_low_mg", models.DecimalField(decimal_places=2, max_digits=9)),
                ("dze_high_mg", models.DecimalField(decimal_places=2, max_digits=9)),
                ("cut_percent", models.DecimalField(decimal_places=1, max_digits=6)),
                ("rule", models.CharField(max_length=24)),
                ("reason", models.TextField()),
                (
                    "manual",
                    models.BooleanField(default=False, help_text="Entered or changed by a prescriber, not the engine."),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("planned", "Planned"),
                            ("current", "Current"),
                            ("held", "Held"),
                            ("done", "Done"),
                            ("superseded", "Superseded"),
                        ],
                        default="planned",
                        max_length=16,
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="steps", to="tapers.taperplan"
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="steps", to="tapers.taperplanversion"
                    ),
                ),
            ],
            options={
                "ordering": ["version_id", "number"],
                "verbose_name": "taper plan step",
            },
        ),
        migrations.CreateModel(
            name="WithdrawalCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("items", models.JSONField()),
                ("total", models.PositiveSmallIntegerField(validators=[django.core.validators.MaxValueValidator(80)])),
                (
                    "band",
                    models.CharField(
                        choices=[
                            ("none", "No signs of withdrawal (0)"),
                            ("mild", "Mild (1-20)"),
                            ("moderate", "Moderate (21-40)"),
                            ("severe", "Severe (41-60)"),
                            ("very_severe", "Very severe (61-80)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("systolic", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("diastolic", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("pulse", models.PositiveSmallIntegerField(blank=True, help_text="Beats a minute.", null=True)),
                (
                    "temperature_f",
                    models.DecimalField(
                        blank=True,
                        decimal_places=1,
                        max_digits=4,
                        null=True,
                        validators=[
                            django.core.validators.MinValueValidator(90),
                            django.core.validators.MaxValueValidator(110),
                        ],
                        verbose_name="temperature (°F)",
                    ),
                ),
                ("symptoms", models.TextField(blank=True)),
                (
                    "via",
                    models.CharField(
                        choices=[
                            ("staff", "Recorded by staff"),
                            ("patient_link", "Recorded by the patient through a check link"),
                        ],
                        max_length=16,
                    ),
                ),
                ("recorded_at", models.DateTimeField()),
                ("hold", models.BooleanField(help_text="The check asked for the next step to be held.")),
                ("consider_higher_level_of_care", models.BooleanField()),
                ("reasons", models.JSONField(default=list, help_text="Why, as tapers.ciwa.hold_decision gave them.")),
                (
                    "alerted_at",
                    models.DateTimeField(blank=True, help_text="When the care team was emailed.", null=True),
                ),
                (
                    "link",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="withdrawal_check",
                        to="tapers.checklink",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="withdrawal_checks",
                        to="patients.patient",
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="withdrawal_checks",
                        to="tapers.taperplan",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-recorded_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="PlanHold",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("reason", models.TextField(blank=True)),
                ("held_on", models.DateField()),
                ("resumed_on", models.DateField(blank=True, null=True)),
                ("resume_note", models.TextField(blank=True)),
                ("days_shifted", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "held_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "resumed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="holds", to="tapers.taperplan"
                    ),
                ),
                (
                    "step",
                    models.ForeignKey(
                        blank=True,
                        help_text="The step held.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="holds",
                        to="tapers.taperstep",
                    ),
                ),
                (
                    "withdrawal_check",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="holds",
                        to="tapers.withdrawalcheck",
                    ),
                ),
            ],
            options={
                "ordering": ["-held_on", "-id"],
            },
        ),
        migrations.AddIndex(
            model_name="checklink",
            index=models.Index(fields=["plan", "-created_at"], name="check_link_by_plan"),
        ),
        migrations.AddConstraint(
            model_name="checklink",
            constraint=models.CheckConstraint(
                condition=models.Q(("token_hash__regex", "^[0-9a-f]{64}$")), name="check_link_token_sha256"
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplanversion",
            constraint=models.UniqueConstraint(fields=("plan", "number"), name="taper_version_number_unique"),
        ),
        migrations.AddConstraint(
            model_name="taperplanversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("approved_at__isnull", True), ("withdrawn_at__isnull", True)),
                fields=("plan",),
                name="taper_version_one_open_draft",
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplanversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("approved_as__isnull", True), ("approved_at__isnull", True), ("approved_by__isnull", True)
                    ),
                    models.Q(
                        ("approved_as__isnull", False), ("approved_at__isnull", False), ("approved_by__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="taper_version_approval_complete",
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplanversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("approved_at__isnull", True), ("withdrawn_at__isnull", True), _connector="OR"),
                name="taper_version_approved_or_withdrawn",
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplanversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("digest__regex", "^[0-9a-f]{64}$")), name="taper_version_digest_sha256"
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplanversion",
            constraint=models.CheckConstraint(
                condition=models.Q(("number__gte", 1)), name="taper_version_number_positive"
            ),
        ),
        migrations.AddIndex(
            model_name="taperplan",
            index=models.Index(fields=["patient", "-created_at"], name="taper_plan_by_patient"),
        ),
        migrations.AddIndex(
            model_name="taperplan",
            index=models.Index(condition=models.Q(("status", "active")), fields=["status"], name="taper_plan_active"),
        ),
        migrations.AddConstraint(
            model_name="taperplan",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["approved", "active", "held"])),
                fields=("patient",),
                name="taper_plan_one_in_force_per_patient",
                violation_error_message="The patient already has a taper plan in force; stop or complete it first.",
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplan",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("current_version__isnull", True), ("status", "draft")),
                    ("status", "stopped"),
                    models.Q(
                        models.Q(("status__in", ["draft", "stopped"]), _negated=True),
                        ("current_version__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="taper_plan_version_matches_status",
            ),
        ),
        migrations.AddConstraint(
            model_name="taperplan",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("ended_on__isnull", False), ("status__in", ["completed", "stopped"])),
                    models.Q(
                        models.Q(("status__in", ["completed", "stopped"]), _negated=True), ("ended_on__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="taper_plan_ended_when_over",
            ),
        ),
        migrations.AddIndex(
            model_name="taperstep",
            index=models.Index(
                condition=models.Q(("status__in", ["planned", "current", "held"])),
                fields=["plan", "starts_on"],
                name="taper_step_open_by_plan",
            ),
        ),
        migrations.AddConstraint(
            model_name="taperstep",
            constraint=models.UniqueConstraint(fields=("version", "number"), name="taper_step_number_unique"),
        ),
        migrations.AddConstraint(
            model_name="taperstep",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "current")), fields=("plan",), name="taper_step_one_current_per_plan"
            ),
        ),
        migrations.AddConstraint(
            model_name="taperstep",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "held")), fields=("plan",), name="taper_step_one_held_per_plan"
            ),
        ),
        migrations.AddConstraint(
            model_name="taperstep",
            constraint=models.CheckConstraint(
                condition=models.Q(("starts_on__gte", models.F("planned_on"))), name="taper_step_not_before_planned"
            ),
        ),
        migrations.AddConstraint(
            model_name="taperstep",
            constraint=models.CheckConstraint(
                condition=models.Q(("dze_low_mg__lte", models.F("dze_high_mg"))), name="taper_step_dze_range"
            ),
        ),
        migrations.AddIndex(
            model_name="withdrawalcheck",
            index=models.Index(fields=["patient", "-recorded_at"], name="withdrawal_check_by_patient"),
        ),
        migrations.AddIndex(
            model_name="withdrawalcheck",
            index=models.Index(fields=["plan", "-recorded_at"], name="withdrawal_check_by_plan"),
        ),
        migrations.AddConstraint(
            model_name="withdrawalcheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("total__gte", 0), ("total__lte", 80)), name="withdrawal_check_total_range"
            ),
        ),
        migrations.AddConstraint(
            model_name="withdrawalcheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("link__isnull", True), ("recorded_by__isnull", False), ("via", "staff")),
                    models.Q(("link__isnull", False), ("recorded_by__isnull", True), ("via", "patient_link")),
                    _connector="OR",
                ),
                name="withdrawal_check_who_recorded",
            ),
        ),
        migrations.AddConstraint(
            model_name="withdrawalcheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("diastolic__isnull", True), ("systolic__isnull", True)),
                    models.Q(
                        ("diastolic__isnull", False),
                        ("systolic__gt", models.F("diastolic")),
                        ("systolic__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="withdrawal_check_blood_pressure_pair",
            ),
        ),
        migrations.AddConstraint(
            model_name="withdrawalcheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("consider_higher_level_of_care", False), ("hold", True), _connector="OR"),
                name="withdrawal_check_escalation_holds",
            ),
        ),
        migrations.AddConstraint(
            model_name="planhold",
            constraint=models.UniqueConstraint(
                condition=models.Q(("resumed_on__isnull", True)), fields=("plan",), name="plan_hold_one_open_per_plan"
            ),
        ),
        migrations.AddConstraint(
            model_name="planhold",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("withdrawal_check__isnull", False), models.Q(("reason", ""), _negated=True), _connector="OR"
                ),
                name="plan_hold_has_cause",
            ),
        ),
        migrations.AddConstraint(
            model_name="planhold",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("days_shifted__isnull", True), ("resumed_by__isnull", True), ("resumed_on__isnull", True)
                    ),
                    models.Q(
                        ("days_shifted__isnull", False),
                        ("resumed_by__isnull", False),
                        ("resumed_on__gte", models.F("held_on")),
                    ),
                    _connector="OR",
                ),
                name="plan_hold_resume_complete",
            ),
        ),
        migrations.RunSQL(IMMUTABLE_APPROVED_VERSIONS, DROP_IMMUTABLE_APPROVED_VERSIONS),
    ]
