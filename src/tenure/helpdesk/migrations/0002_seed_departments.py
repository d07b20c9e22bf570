from django.db import migrations

DEPARTMENTS = [
    ("billing", "Billing"),
    ("service", "Service"),
    ("scheduling", "Scheduling"),
    ("sales", "Sales"),
    ("general", "General information"),
    ("complaint", "Complaint"),
]


def seed(apps, schema_editor):
    Department = apps.get_model("helpdesk", "Department")
    SlaPolicy = apps.get_model("helpdesk", "SlaPolicy")
    for position, (slug, name) in enumerate(DEPARTMENTS):
        Department.objects.get_or_create(slug=slug, defaults={"name": name, "position": position})
    if not SlaPolicy.objects.exists():
        SlaPolicy.objects.create(
            name="Standard", first_response_minutes=8 * 60, resolution_minutes=3 * 24 * 60, position=1000
        )
        SlaPolicy.objects.create(
            name="Urgent",
            priority="urgent",
            first_response_minutes=60,
            resolution_minutes=8 * 60,
            position=10,
        )


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
