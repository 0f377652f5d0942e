from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("insurance", "0001_initial")]

    operations = [
        # ISA13 is nine digits and must not repeat for a sender; CYCLE starts again at 1 after
        # 999,999,999 interchanges (clearinghouses only look for repeats in recent traffic).
        migrations.RunSQL(
            "CREATE SEQUENCE insurance_interchange_control_seq START 1 MAXVALUE 999999999 CYCLE",
            "DROP SEQUENCE insurance_interchange_control_seq",
        )
    ]
