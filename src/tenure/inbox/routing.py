"""Websocket routes of the inbox: the live-chat widget's socket."""

from __future__ import annotations

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from tenure.inbox.consumers import ChatConsumer


def chat_origins() -> list[str]:
    """The widget runs on the business's own web site, so a socket comes from that site's origin.

    Allowed: this server's own host names (ALLOWED_HOSTS) and the sites in TENURE_CHAT_ORIGINS.
    """
    return [*settings.ALLOWED_HOSTS, *settings.TENURE_CHAT_ORIGINS]


websocket_urlpatterns = [path("ws/chat/", OriginValidator(ChatConsumer.as_asgi(), chat_origins()))]
