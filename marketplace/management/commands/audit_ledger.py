from django.core.management.base import BaseCommand, CommandError

from marketplace.money import format_credits
from marketplace.services import ledger


class Command(BaseCommand):
    help = "Check that every transaction sums to zero and every cached balance equals its entries."

    def handle(self, *args, **options):
        report = ledger.audit_ledger()
        self.stdout.write(f"transactions: {report.transactions}  entries: {report.entries}")
        for kind, total in sorted(report.totals.items()):
            self.stdout.write(f"  {kind:<16} {format_credits(total):>20}")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"MISMATCH {problem}")
            raise CommandError(f"ledger audit failed: {len(report.problems)} problem(s)")
        self.stdout.write("ledger OK: every transaction sums to zero and every balance matches its entries")
