import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The audit log's actor loses its database constraint (see AuditEvent.actor): PostgreSQL
# checked it once per event written, a third of the cost of a list's audit insert. Dropping
# a constraint checks nothing, but its lock on the log waits behind any long read of it, and
# every audit insert would wait behind the lock: give up after 5 s instead (the migration
# fails and can be run again) rather than hold off the whole app.


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_audit_actor_one_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL("SET LOCAL lock_timeout = '5s'", reverse_sql="SET LOCAL lock_timeout = '5s'"),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
