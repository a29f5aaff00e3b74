"""Provider events as each provider posts them: payloads in the shapes of the providers' own
documentation, posted to anymail's real webhook views with the credentials each one checks
(basic auth from ANYMAIL_WEBHOOK_SECRET; Mailgun's HMAC signature as well)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.test import Client

from mailing import services
from mailing.models import Delivery, MailingList

SECRET = "renkei:webhook-secret"
MAILGUN_SIGNING_KEY = "key-mailgun-signing-0123456789"
BACKENDS = {
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "postmark": "anymail.backends.postmark.EmailBackend",
    "resend": "anymail.backends.resend.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "sparkpost": "anymail.backends.sparkpost.EmailBackend",
}


def receive_events_from(settings: Any, provider: str, *, secret: str | None = SECRET) -> None:
    """Bulletins go out through PROVIDER from now on (the send itself went to the outbox), with
    its webhook credentials set."""
    settings.MAILING_EMAIL_BACKEND = BACKENDS[provider]
    anymail = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY}
    anymail.pop("WEBHOOK_SECRET", None)
    if secret:
        anymail["WEBHOOK_SECRET"] = secret
    settings.ANYMAIL = anymail


def send_bulletin(mailing_list: MailingList) -> list[Delivery]:
    bulletin = services.save_bulletin(
        None, mailing_list=mailing_list, subject="お知らせ", body="本文"
    )
    services.start_bulletin(bulletin)
    services.snapshot_audience(bulletin.pk)
    services.drain_bulletin(bulletin.pk)
    return list(Delivery.objects.filter(bulletin=bulletin).order_by("id"))


@dataclass
class Event:
    """One provider event about DELIVERY: the payload, and the id the provider gave the
    message when it accepted it (what its backend records on the delivery)."""

    provider: str
    payload: Any
    message_id: str
    headers: dict[str, str]


def record_provider_id(delivery: Delivery, event: Event) -> None:
    """What the provider's send API answered for this recipient, as the pipeline records it."""
    Delivery.objects.filter(pk=delivery.pk).update(provider_message_id=event.message_id)
    delivery.refresh_from_db()


def _auth(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post(client: Client, event: Event, *, secret: str | None = SECRET) -> Any:
    headers: dict[str, Any] = {**event.headers, **(_auth(secret) if secret else {})}
    return client.post(
        f"/mail/anymail/{event.provider}/tracking/",
        data=json.dumps(event.payload),
        content_type="application/json",
        **headers,
    )


# --- each provider's documented payloads ------------------------------------------------------


def ses_bounce(
    recipients: list[str], *, bounce_type: str = "Permanent", sub_type: str = "General",
    message_id: str = "0100019a5e8b3c4d-5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9-000000",
) -> Event:  # fmt: skip
    """An SNS notification of an SES bounce (docs: SES notification contents, "Bounce")."""
    ses = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": "5.1.1" if bounce_type == "Permanent" else "4.2.2",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"
                    if bounce_type == "Permanent"
                    else "smtp; 452 4.2.2 mailbox full",
                }
                for address in recipients
            ],
            "timestamp": "2026-11-26T07:00:01.000Z",
            "feedbackId": "0100019a5e8b3c4d-feedback-000000",
            "reportingMTA": "dsn; a27-30.smtp-out.ap-northeast-1.amazonses.com",
        },
        "mail": {
            "timestamp": "2026-11-26T07:00:00.000Z",
            "source": "jimukyoku@renkei.example.jp",
            "sourceArn": "arn:aws:ses:ap-northeast-1:123456789012:identity/renkei.example.jp",
            "sendingAccountId": "123456789012",
            "messageId": message_id,
            "destination": recipients,
        },
    }
    sns_id = str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(ses, sort_keys=True)))
    payload = {
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:renkei-ses-events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(ses),
        "Timestamp": "2026-11-26T07:00:02.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+..",
        "SigningCertURL": "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.ap-northeast-1.amazonaws.com/?Action=Unsubscribe",
    }
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification",
        "HTTP_X_AMZ_SNS_MESSAGE_ID": sns_id,
        "HTTP_X_AMZ_SNS_TOPIC_ARN": payload["TopicArn"],
    }
    return Event("amazon_ses", payload, message_id, headers)


def postmark_bounce(
    recipient: str, *, kind: str = "HardBounce", message_id: str = "", event_id: int = 4323372036
) -> Event:
    """Postmark's bounce webhook (docs: Bounce webhook, Type HardBounce / SoftBounce)."""
    message_id = message_id or "883953f4-6105-42a2-a16a-77a8eac79483"
    codes = {"HardBounce": 1, "SoftBounce": 4096, "Transient": 2}
    payload = {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": event_id,
        "Type": kind,
        "TypeCode": codes.get(kind, 1),
        "Name": "Hard bounce" if kind == "HardBounce" else "Soft bounce",
        "Tag": "",
        "MessageID": message_id,
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": recipient,
        "From": "jimukyoku@renkei.example.jp",
        "BouncedAt": "2026-11-26T07:00:01.9070259Z",
        "DumpAvailable": True,
        "Inactive": kind == "HardBounce",
        "CanActivate": True,
        "Subject": "【市区町村会】お知らせ",
        "Content": "",
    }
    return Event("postmark", payload, message_id, {})


def brevo_bounce(recipient: str, *, kind: str = "hard_bounce") -> Event:
    """Brevo's transactional webhook (docs: hard_bounce / soft_bounce)."""
    message_id = "<202611261600.98765432101@smtp-relay.mailin.fr>"
    payload = {
        "event": kind,
        "email": recipient,
        "id": 1234567,
        "date": "2026-11-26 16:00:00",
        "ts": 1764140400,
        "message-id": message_id,
        "ts_event": 1764140400,
        "subject": "【市区町村会】お知らせ",
        "tag": "",
        "sending_ip": "185.41.28.109",
        "ts_epoch": 1764140400000,
        "reason": "550 5.1.1 User unknown" if kind == "hard_bounce" else "452 mailbox full",
    }
    return Event("brevo", payload, message_id, {})


def mailgun_failure(recipient: str, *, severity: str = "permanent") -> Event:
    """Mailgun's webhook for a failed delivery (docs: event "failed", severity
    permanent / temporary), signed with the webhook signing key."""
    timestamp, token = "1764140401", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(
        MAILGUN_SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    permanent = severity == "permanent"
    payload = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": "failed",
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": 1764140401.375624,
            "severity": severity,
            "reason": "bounce" if permanent else "generic",
            "log-level": "error" if permanent else "warn",
            "recipient": recipient,
            "recipient-domain": recipient.partition("@")[2],
            "message": {
                "headers": {
                    "to": recipient,
                    "message-id": "20261126070000.1.ABCDEF0123456789@mg.renkei.example.jp",
                    "from": "jimukyoku@renkei.example.jp",
                    "subject": "【市区町村会】お知らせ",
                },
                "attachments": [],
                "size": 2048,
            },
            "delivery-status": {
                "code": 550 if permanent else 452,
                "message": "5.1.1 user unknown" if permanent else "4.2.2 mailbox full",
                "description": "",
                "attempt-no": 1,
            },
            "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
        },
    }
    return Event("mailgun", payload, "<20261126070000.1.ABCDEF0123456789@mg.renkei.example.jp>", {})


def sendgrid_bounce(recipient: str, *, kind: str = "bounce") -> Event:
    """SendGrid's event webhook (docs: event "bounce", type "bounce" / "blocked")."""
    message_id = "<14c5d75ce93.dfd.64b469@ismtpd-555>"
    payload = [
        {
            "email": recipient,
            "timestamp": 1764140401,
            "smtp-id": message_id,
            "event": "bounce",
            "category": [],
            "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "reason": "550 5.1.1 unknown recipient"
            if kind == "bounce"
            else "550 5.7.1 blocked by the receiver's policy",
            "status": "5.1.1" if kind == "bounce" else "5.7.1",
            "type": kind,
        }
    ]
    return Event("sendgrid", payload, message_id, {})


def sparkpost_bounce(recipient: str, *, bounce_class: str = "10") -> Event:
    """SparkPost's event webhook (docs: message_event "bounce" with a bounce_class)."""
    transmission_id = "65832150921904138"
    payload = [
        {
            "msys": {
                "message_event": {
                    "type": "bounce",
                    "bounce_class": bounce_class,
                    "campaign_id": "",
                    "customer_id": "1",
                    "error_code": "550" if bounce_class == "10" else "452",
                    "event_id": "92356927693813856",
                    "friendly_from": "jimukyoku@renkei.example.jp",
                    "ip_address": "127.0.0.1",
                    "message_id": "000443ee14578172be22",
                    "msg_from": "msprvs1=18290qww0ygol=bounces-12345@sparkpostmail.com",
                    "raw_rcpt_to": recipient,
                    "rcpt_to": recipient,
                    "raw_reason": "550 5.1.1 <user>: Recipient address rejected: User unknown"
                    if bounce_class == "10"
                    else "452 4.2.2 mailbox full",
                    "reason": "550 5.1.1 ...",
                    "subject": "【市区町村会】お知らせ",
                    "timestamp": "1764140401",
                    "transmission_id": transmission_id,
                }
            }
        }
    ]
    return Event("sparkpost", payload, transmission_id, {})


def resend_bounce(recipient: str, *, kind: str = "Permanent") -> Event:
    """Resend's webhook (docs: email.bounced with data.bounce.type Permanent / Transient)."""
    email_id = "56761188-7520-42d8-8898-ff6fc54ce618"
    payload = {
        "type": "email.bounced",
        "created_at": "2026-11-26T07:00:01.126Z",
        "data": {
            "created_at": "2026-11-26 07:00:00.894719+00",
            "email_id": email_id,
            "from": "市区町村会事務局 <jimukyoku@renkei.example.jp>",
            "to": [recipient],
            "subject": "【市区町村会】お知らせ",
            "bounce": {
                "message": "The recipient's email provider sent a hard bounce message."
                if kind == "Permanent"
                else "The recipient's inbox is full.",
                "subType": "General" if kind == "Permanent" else "MailboxFull",
                "type": kind,
            },
        },
    }
    return Event("resend", payload, email_id, {"HTTP_SVIX_ID": "msg_2pRvT0xzlq9VaTrz7JrW"})
