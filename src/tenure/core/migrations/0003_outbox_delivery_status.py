from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_outboundmessage"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundmessage",
            name="delivery_status",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Unknown"),
                    ("delivered", "Delivered"),
                    ("undelivered", "Undelivered"),
                    ("bounced", "Bounced"),
                    ("delayed", "Delayed"),
                ],
                default="",
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="delivery_updated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="provider_id",
            field=models.CharField(blank=True, db_index=True, default="", max_length=300),
        ),
    ]
