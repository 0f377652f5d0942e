import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The actor's own index duplicates audit_actor_time, which starts with the actor. Only the
# index is dropped: Django's AlterField would also drop and re-add the foreign key, and
# re-adding it checks every row of the audit log while holding off its writes. CONCURRENTLY
# (outside a transaction): a plain DROP INDEX would wait behind any long read of the log and
# hold off every audit insert meanwhile.
INDEX = "clinic_auditevent_actor_id_5c6b5919"


class Migration(migrations.Migration):
    atomic = False
    dependencies = [
        ("clinic", "0004_licence_expiry_notice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "clinic_auditevent" ("actor_id")',
                ),
            ],
        ),
    ]
