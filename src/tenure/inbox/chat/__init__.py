"""Live chat: a one-script-tag widget talking to a websocket consumer; messages become helpdesk requests."""
