"""The ASGI entry point: Django for HTTP, Channels for the chat widget's and the console's websockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenure.settings")

from django.core.asgi import get_asgi_application

# Django must be set up before the consumers (and the models they import) are loaded.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from tenure.helpdesk.console.routing import websocket_urlpatterns as console_routes  # noqa: E402
from tenure.inbox.routing import websocket_urlpatterns as chat_routes  # noqa: E402

application = ProtocolTypeRouter(
    {"http": django_application, "websocket": URLRouter([*chat_routes, *console_routes])}
)
