"""Make the audit log append-only in the database itself.

The app already refuses updates and deletes; this trigger also refuses them from psql,
a script or a compromised app process using the same role. TRUNCATE is still possible
for the database owner (test teardown); production should run the app under a role
that is not the owner (see README, "Audit").
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION clinic_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER clinic_auditevent_append_only
    BEFORE UPDATE OR DELETE ON clinic_auditevent
    FOR EACH ROW EXECUTE FUNCTION clinic_auditevent_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS clinic_auditevent_append_only ON clinic_auditevent;
DROP FUNCTION IF EXISTS clinic_auditevent_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("clinic", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
