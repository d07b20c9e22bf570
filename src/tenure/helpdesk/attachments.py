"""Storing message attachments under the data directory, with limits; a refused file keeps its reason."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from tenure.helpdesk.conf import current
from tenure.helpdesk.models import Attachment, RequestMessage

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class IncomingAttachment:
    filename: str
    content_type: str
    data: bytes


def storage() -> FileSystemStorage:
    return FileSystemStorage(location=Path(settings.DATA_DIR) / "attachments")


def safe_name(filename: str) -> str:
    name = _UNSAFE.sub("_", Path(filename.replace("\\", "/")).name).strip("._") or "attachment"
    return name[-100:]


def store(message: RequestMessage, incoming: IncomingAttachment, index: int) -> Attachment:
    """Save one file, or record why it was refused; never raises for a bad file."""
    config = current()
    size = len(incoming.data)
    row = Attachment(
        message=message,
        filename=(incoming.filename or "attachment")[:255],
        content_type=(incoming.content_type or "application/octet-stream")[:100],
        size=size,
    )
    if index >= config.max_attachments_per_message:
        row.refused_reason = f"more than {config.max_attachments_per_message} attachments on one message"
    elif size > config.max_attachment_bytes:
        row.refused_reason = (
            f"{size:,} bytes is over the {config.max_attachment_bytes:,}-byte limit; ask for a smaller file"
        )
    elif size == 0:
        row.refused_reason = "empty file"
    else:
        row.sha256 = hashlib.sha256(incoming.data).hexdigest()
        name = f"{message.created_at:%Y/%m}/{uuid.uuid4().hex}-{safe_name(incoming.filename)}"
        row.stored_name = storage().save(name, ContentFile(incoming.data))
    row.save()
    return row


def open_attachment(attachment: Attachment) -> bytes:
    if not attachment.stored_name:
        raise FileNotFoundError(f"attachment {attachment.pk} was not stored: {attachment.refused_reason}")
    with storage().open(attachment.stored_name, "rb") as handle:
        return bytes(handle.read())
