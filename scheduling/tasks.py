from celery import shared_task

from scheduling.services.tracks import tracks_generate_all


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def generate_track_sessions() -> int:
    """Keep every active track's sessions generated to the horizon. Idempotent: a second
    run (or a redelivery after a worker died) makes nothing twice."""
    return tracks_generate_all()
