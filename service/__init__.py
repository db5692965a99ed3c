"""Stet's moderation service.

The domain core lives here (settings, models, policy, moderation, accounts, reporting aggregates)
and imports no Flask, Celery, API, worker or dashboard (``tests/test_layers.py`` keeps it so). The
JSON API is ``service.api``, the Flask pieces the faces share are ``service.web``, and
``service.app`` is the composition root: ``create_app`` and the ``stet`` command line.
"""
