import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models

# Frozen copy of association.privacy.address_hash as of this migration.
KEY_SALT = b"renkei.privacy.address-hash\x00"


def address_hash(email):
    key = hashlib.sha256(KEY_SALT + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def hash_addresses(apps, schema_editor):
    Suppression = apps.get_model("mailing", "Suppression")
    for suppression in Suppression.objects.all().only("pk", "email"):
        Suppression.objects.filter(pk=suppression.pk).update(
            email_hash=address_hash(suppression.email)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("mailing", "0004_published_documents"),
    ]

    operations = [
        migrations.AlterField(
            model_name="suppression",
            name="email",
            field=models.EmailField(
                blank=True,
                help_text="個人情報を削除した方のアドレスは空欄になり、ハッシュだけが残ります。",
                max_length=254,
                verbose_name="メールアドレス",
            ),
        ),
        migrations.AddField(
            model_name="suppression",
            name="email_hash",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="アドレスのハッシュ"
            ),
            preserve_default=False,
        ),
        migrations.RunPython(hash_addresses, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="suppression",
            name="email_hash",
            field=models.CharField(
                editable=False, max_length=64, unique=True, verbose_name="アドレスのハッシュ"
            ),
        ),
    ]
