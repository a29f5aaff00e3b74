"""Each contact gets its own login, tied by a one-to-one key instead of a shared account found
by address. Logins shared by contacts of two members are split: the first contact keeps the
account, each other one gets a new account of its own. Usernames stop carrying the address."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations, models

PORTAL_STATUSES = ("active", "guest")


def split_shared_logins(apps, schema_editor):
    Contact = apps.get_model("association", "Contact")
    User = apps.get_model("association", "User")
    seen = set()
    contacts = Contact.objects.exclude(user=None).select_related("member", "user")
    for contact in contacts.order_by("user_id", "id"):
        allowed = contact.is_active and contact.member.status in PORTAL_STATUSES
        user = contact.user
        # A secretariat account never doubles as a contact's login.
        if contact.user_id in seen or user.is_staff or user.is_superuser:
            user = User.objects.create(
                username=f"contact-{contact.pk}",
                email=contact.email,
                password=make_password(None),
                is_active=allowed,
            )
            Contact.objects.filter(pk=contact.pk).update(user=user)
            continue
        seen.add(contact.user_id)
        User.objects.filter(pk=user.pk).update(
            username=f"contact-{contact.pk}", email=contact.email, is_active=allowed
        )


class Migration(migrations.Migration):
    dependencies = [
        ("association", "0002_member_status_guest"),
    ]

    operations = [
        migrations.RunPython(split_shared_logins, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="contact",
            name="user",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="contact",
                to=settings.AUTH_USER_MODEL,
                verbose_name="ログインアカウント",
            ),
        ),
    ]
