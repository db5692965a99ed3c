"""Stet's Celery worker: scores comments and applies the policy."""
