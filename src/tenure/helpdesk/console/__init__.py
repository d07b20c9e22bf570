"""The agent console: inbox with saved views, the conversation page, presence and live updates."""
