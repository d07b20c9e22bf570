"""Websocket route of the console: presence (who else is viewing or typing) and live updates."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from tenure.helpdesk.console.consumers import ConsoleConsumer

websocket_urlpatterns = [
    path("ws/console/", AllowedHostsOriginValidator(AuthMiddlewareStack(ConsoleConsumer.as_asgi())))
]
