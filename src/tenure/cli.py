"""The `tenure` command: Django's manage.py with friendlier verbs."""

from __future__ import annotations

import os
import sys

# `tenure import customers FILE` reads better than `import_data`, but `import` cannot name a module.
ALIASES = {"import": "import_data", "export": "export_data", "worker": "tenure_worker"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenure.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    if len(args) > 1:
        args[1] = ALIASES.get(args[1], args[1])
    args[0] = "tenure"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
