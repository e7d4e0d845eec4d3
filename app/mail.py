"""Outgoing e-mail over SMTP (the seeds' SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASS)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from app.settings import Settings


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str
    subtype: str


class SendFailed(Exception):
    """The server refused or could not be reached; `temporary` when worth retrying."""

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


async def send(
    settings: Settings, to: str, subject: str, html: str, attachments: list[Attachment]
) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content("This message is HTML; open it in a mail reader that shows HTML.")
    message.add_alternative(html, subtype="html")
    for a in attachments:
        message.add_attachment(a.data, maintype=a.maintype, subtype=a.subtype, filename=a.filename)
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_pass.get_secret_value() if settings.smtp_pass else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        refused = error.recipients[0]
        raise SendFailed(f"{refused.code} {refused.message}", refused.code < 500) from None
    except aiosmtplib.SMTPResponseException as error:
        # 4xx: the server asks to try again later; 5xx: it will not take this message.
        raise SendFailed(f"{error.code} {error.message}", error.code < 500) from None
    except (aiosmtplib.SMTPException, OSError) as error:
        raise SendFailed(str(error) or type(error).__name__, True) from None
