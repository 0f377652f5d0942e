"""Tapers: the prescriber of record and communications with outside prescribers."""

import uuid

import django.contrib.postgres.constraints
import django.contrib.postgres.fields
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

import patients.models


class Migration(migrations.Migration):
    dependencies = [
        ("tapers", "0003_plans"),
        # Episodes, consents, disclosures and the btree_gist extension the no-overlap constraint needs.
        ("patients", "0010_intake_wording"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalCommunication',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('public_id', models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('direction', models.CharField(choices=[('outbound', 'To the prescriber'), ('inbound', 'From the prescriber')], max_length=8)),
                ('channel', models.CharField(choices=[('secure_email', 'Secure email'), ('fax', 'Fax'), ('phone', 'Phone'), ('mail', 'Mail'), ('portal', 'Portal'), ('in_person', 'In person')], max_length=16)),
                ('subject', models.CharField(max_length=200)),
                ('body', models.TextField()),
                ('information', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('attendance', 'Attendance and participation'), ('diagnosis', 'Diagnosis'), ('medications', 'Medications and taper plan'), ('treatment_plan', 'Treatment plan and progress'), ('toxicology', 'Toxicology results'), ('discharge_summary', 'Discharge summary'), ('billing', 'Billing and coverage information')], max_length=24), blank=True, default=list, size=None)),
                ('purpose', models.CharField(blank=True, choices=[('treatment', 'Treatment'), ('payment', 'Payment'), ('operations', 'Health care operations'), ('care_coordination', 'Coordination of care'), ('family_involvement', 'Family involvement in treatment'), ('patient_request', 'At the request of the patient')], max_length=24)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('queued', 'Passed the consent check; with the worker to send'), ('to_send_by_staff', 'Passed the consent check; for staff to send'), ('sent', 'Sent'), ('failed', 'Failed'), ('received', 'Received')], max_length=20)),
                ('failure_reason', models.CharField(blank=True, max_length=300)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('received_at', models.DateTimeField(blank=True, help_text='Inbound: when it reached us.', null=True)),
                ('response', models.TextField(blank=True)),
                ('responded_at', models.DateTimeField(blank=True, null=True)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('consent', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='patients.consent')),
                ('created_by', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('disclosure', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='patients.disclosure')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='patients.patient')),
                ('prescriber', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tapers.prescriber')),
                ('sent_by', models.ForeignKey(blank=True, db_constraint=False, help_text='Who released it past the consent gate; the letter is signed by them.', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical communication',
                'verbose_name_plural': 'historical communications',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='Communication',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('direction', models.CharField(choices=[('outbound', 'To the prescriber'), ('inbound', 'From the prescriber')], max_length=8)),
                ('channel', models.CharField(choices=[('secure_email', 'Secure email'), ('fax', 'Fax'), ('phone', 'Phone'), ('mail', 'Mail'), ('portal', 'Portal'), ('in_person', 'In person')], max_length=16)),
                ('subject', models.CharField(max_length=200)),
                ('body', models.TextField()),
                ('information', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('attendance', 'Attendance and participation'), ('diagnosis', 'Diagnosis'), ('medications', 'Medications and taper plan'), ('treatment_plan', 'Treatment plan and progress'), ('toxicology', 'Toxicology results'), ('discharge_summary', 'Discharge summary'), ('billing', 'Billing and coverage information')], max_length=24), blank=True, default=list, size=None)),
                ('purpose', models.CharField(blank=True, choices=[('treatment', 'Treatment'), ('payment', 'Payment'), ('operations', 'Health care operations'), ('care_coordination', 'Coordination of care'), ('family_involvement', 'Family involvement in treatment'), ('patient_request', 'At the request of the patient')], max_length=24)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('queued', 'Passed the consent check; with the worker to send'), ('to_send_by_staff', 'Passed the consent check; for staff to send'), ('sent', 'Sent'), ('failed', 'Failed'), ('received', 'Received')], max_length=20)),
                ('failure_reason', models.CharField(blank=True, max_length=300)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('received_at', models.DateTimeField(blank=True, help_text='Inbound: when it reached us.', null=True)),
                ('response', models.TextField(blank=True)),
                ('responded_at', models.DateTimeField(blank=True, null=True)),
                ('consent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='communications', to='patients.consent')),
                ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('disclosure', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='communication', to='patients.disclosure')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='prescriber_communications', to='patients.patient')),
                ('prescriber', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='communications', to='tapers.prescriber')),
                ('sent_by', models.ForeignKey(blank=True, help_text='Who released it past the consent gate; the letter is signed by them.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['patient', '-created_at'], name='communication_patient_time'), models.Index(fields=['prescriber', 'patient'], name='communication_prescriber')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('subject', ''), _negated=True), models.Q(('body', ''), _negated=True)), name='communication_has_subject_and_body', violation_error_message='A communication needs a subject and a body.'), models.CheckConstraint(condition=models.Q(models.Q(('direction', 'inbound'), ('status', 'received')), models.Q(('direction', 'outbound'), models.Q(('status', 'received'), _negated=True)), _connector='OR'), name='communication_status_fits_direction', violation_error_message='Inbound messages are received; outbound ones are drafted and sent.'), models.CheckConstraint(condition=models.Q(models.Q(('direction', 'outbound'), ('status__in', ['sent', 'to_send_by_staff']), _negated=True), models.Q(('consent__isnull', False), ('disclosure__isnull', False)), _connector='OR'), name='communication_released_has_disclosure', violation_error_message='An outbound message is sent only with its disclosure recorded.'), models.CheckConstraint(condition=models.Q(('direction', 'inbound'), models.Q(models.Q(('information', []), _negated=True), models.Q(('purpose', ''), _negated=True)), _connector='OR'), name='communication_outbound_says_what_and_why', violation_error_message='Say what an outbound message discloses and for what purpose.'), models.CheckConstraint(condition=models.Q(models.Q(('status', 'sent'), _negated=True), ('sent_at__isnull', False), _connector='OR'), name='communication_sent_has_time', violation_error_message='A sent message has its time.'), models.CheckConstraint(condition=models.Q(('response', ''), ('responded_at__isnull', False), _connector='OR'), name='communication_response_has_time', violation_error_message='A response has its time.')],
            },
        ),
        migrations.CreateModel(
            name='PrescriberOfRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('started_on', models.DateField()),
                ('ended_on', models.DateField(blank=True, help_text='First day no longer the prescriber of record.', null=True)),
                ('reason', models.TextField(blank=True)),
                ('episode', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='prescribers_of_record', to='patients.episodeofcare')),
                ('prescriber', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='of_record', to='tapers.prescriber')),
                ('set_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'prescriber of record',
                'verbose_name_plural': 'prescribers of record',
                'ordering': ['started_on', 'id'],
                'indexes': [models.Index(fields=['prescriber'], name='prescriber_of_record_by_pres')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('ended_on__isnull', True)), fields=('episode',), name='prescriber_of_record_one_current', violation_error_message='This episode already has a current prescriber of record.'), django.contrib.postgres.constraints.ExclusionConstraint(expressions=[('episode', '='), (patients.models.DateRange('started_on', 'ended_on', models.Value('[)')), '&&')], name='prescriber_of_record_no_overlap', violation_error_message='Two prescribers of record of one episode cannot overlap.'), models.CheckConstraint(condition=models.Q(('ended_on__isnull', True), ('ended_on__gte', models.F('started_on')), _connector='OR'), name='prescriber_of_record_ends_after_start', violation_error_message='A prescriber of record cannot end before they start.')],
            },
        ),
    ]
