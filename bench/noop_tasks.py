"""The baseline of bench/reminders.py: a task that does nothing, on the same broker and the
same worker as the reminder sends. The worker loads it with `celery -A clinic worker
--include bench.noop_tasks`; nothing else imports it."""

from __future__ import annotations

from celery import Task, shared_task


# The same options as scheduling.tasks.send_reminder, so both pay the same Celery costs
# (late acknowledgement, one message per id) and differ only in the work they do.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, ignore_result=True)
def noop(self: Task, reminder_id: int) -> str:
    return "noop"
