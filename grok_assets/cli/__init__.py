"""``grok-assets``: parse, call ``backup/`` or ``dev/``, print, exit 0/1/2. Only the
commands that run a Dagster job import Dagster."""
