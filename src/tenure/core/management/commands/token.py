"""`tenure token create USER NAME` prints a new API token once; `list` and `revoke` manage them."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from tenure.core.models import ApiToken
from tenure.core.services import create_api_token, revoke_api_token


class Command(BaseCommand):
    help = "Create, list and revoke API tokens for integrations."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a token (the secret is shown once)")
        create.add_argument("username")
        create.add_argument("name")
        actions.add_parser("list", help="list tokens")
        revoke = actions.add_parser("revoke", help="revoke a token by id")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"no user named {options['username']!r}")
            token, secret = create_api_token(user=user, name=options["name"])
            self.stdout.write(f"token {token.pk} for {user.get_username()}: {secret}")
            self.stdout.write("Keep it now: it is not stored and cannot be shown again.")
        elif action == "list":
            for token in ApiToken.objects.select_related("user").order_by("pk"):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                self.stdout.write(
                    f"{token.pk}\t{token.user.get_username()}\t{token.name}\t{token.prefix}…\t{state}"
                )
        else:
            found = ApiToken.objects.filter(pk=options["token_id"]).first()
            if found is None:
                raise CommandError(f"no token {options['token_id']}")
            revoke_api_token(token=found, actor=None)
            self.stdout.write(f"revoked token {found.pk}")
