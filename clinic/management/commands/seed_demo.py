"""Load the demo data `make run` shows: idempotent, and refused on a production deployment."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from clinic.apps import domain_app_configs


class Command(BaseCommand):
    help = "Create demo locations, rooms, one user per role and a few patients (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even with DEBUG off. Demo users have published passwords: never on real data.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(
                "Refusing to load demo users with published passwords while DEBUG is off. "
                "Pass --allow-without-debug for a throwaway demo server."
            )
        with transaction.atomic():
            for config in domain_app_configs():
                config.seed_demo(self.stdout)
