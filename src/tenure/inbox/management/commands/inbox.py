"""`tenure inbox poll|retry|mailbox`: run the channel adapters by hand."""

from __future__ import annotations

import os
from typing import IO, Any, cast

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from tenure.core.progress import ProgressFn
from tenure.inbox.mail.ingest import retry_failed
from tenure.inbox.mail.poll import poll_mailbox
from tenure.inbox.models import Mailbox


class Command(BaseCommand):
    help = "Inbox channels: poll IMAP mailboxes now, retry e-mails that failed, add a mailbox."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        poll = actions.add_parser("poll", help="fetch new mail from every active mailbox (or --mailbox NAME)")
        poll.add_argument("--mailbox", help="only this mailbox (its name)")
        actions.add_parser("retry", help="ingest again the e-mails kept as errors")
        add = actions.add_parser("mailbox", help="add or update an IMAP mailbox")
        add.add_argument("name")
        add.add_argument("--host", required=True)
        add.add_argument("--port", type=int, default=993)
        add.add_argument("--no-ssl", action="store_true", help="plain IMAP (loopback tests only)")
        add.add_argument("--user", required=True)
        add.add_argument(
            "--password-env", default="TENURE_IMAP_PASSWORD", help="environment variable holding the password"
        )
        add.add_argument("--folder", default="INBOX")
        add.add_argument("--interval", type=int, default=60, help="seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.ending = ""  # rich writes whole lines itself
        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        action = options["action"]
        if action == "poll":
            self.poll(console, options.get("mailbox"))
        elif action == "retry":
            with _bars(console) as progress:
                results = retry_failed(progress=progress)
            statuses = [log.status for log in results]
            console.print(f"Retried {len(results)} e-mails: " + _counts(statuses))
        else:
            self.add_mailbox(console, options)

    def poll(self, console: Console, name: str | None) -> None:
        mailboxes = Mailbox.objects.filter(active=True).order_by("name")
        if name:
            mailboxes = Mailbox.objects.filter(name=name)
            if not mailboxes.exists():
                raise CommandError(f"no mailbox named {name!r} (see `tenure inbox mailbox --help`)")
        failed = False
        for mailbox in mailboxes:
            with _bars(console) as progress:
                result = poll_mailbox(mailbox, progress=progress)
            if result.error:
                failed = True
                console.print(f"[red]{mailbox.name}: {result.error}[/red]")
            else:
                console.print(
                    f"{mailbox.name}: {result.fetched} new e-mails; "
                    + _counts(list(result.outcomes.elements()))
                )
        if failed:
            raise CommandError("some mailboxes could not be polled (see above)")

    def add_mailbox(self, console: Console, options: dict[str, Any]) -> None:
        password = os.environ.get(options["password_env"], "")
        if not password:
            raise CommandError(f"set the password in the environment variable {options['password_env']}")
        mailbox = Mailbox.objects.filter(name=options["name"]).first() or Mailbox(name=options["name"])
        created = mailbox.pk is None
        mailbox.host, mailbox.port, mailbox.use_ssl = options["host"], options["port"], not options["no_ssl"]
        mailbox.username, mailbox.password, mailbox.folder = options["user"], password, options["folder"]
        mailbox.poll_interval_seconds, mailbox.active = options["interval"], True
        try:
            mailbox.full_clean(validate_unique=False)
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from None
        mailbox.save()
        console.print(f"{'Added' if created else 'Updated'} mailbox {mailbox}.")


def _counts(statuses: list[str]) -> str:
    if not statuses:
        return "nothing to do"
    return ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))


class _bars:
    """A rich progress bar per stage reported through the ProgressFn callback."""

    def __init__(self, console: Console) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=console, transient=False)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressFn:
        self.progress.start()

        def report(stage: str, done: int, total: int) -> None:
            if stage not in self.tasks:
                self.tasks[stage] = self.progress.add_task(stage, total=total)
            self.progress.update(self.tasks[stage], completed=done, total=total)

        return report

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
