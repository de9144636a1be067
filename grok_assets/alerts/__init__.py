"""What a person is told when the pipeline needs one, and how it reaches them.

A failed run becomes one message (:mod:`.messages`): the job, the partition, what
failed and what it found, and the command that fixes it (:mod:`.commands`); a run
blocked by the backup gate is one sentence and a command, never a stack trace. The
message goes to a Slack incoming webhook through ``slack_sdk`` (:mod:`.webhook`),
whose URL, a credential, appears nowhere else.

Plain Python, free of Dagster, and a package of its own rather than part of
``defs/``: what a message says is a rule of the project, tested by composing
messages from plain values; the sensors in ``defs/sensors.py`` only read a run's
events into :class:`~.failure.RunFailure` and hand the text to the webhook. Layered
just below ``storage/``, ``backup/`` and ``selection/``: :mod:`.kinds` names the kind of
each of their errors (for the alert and for the retry policy).
"""
