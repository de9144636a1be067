"""What Dagster loads: resources, partitions, one module per asset, the checks, the jobs
and their schedules. Every function here is thin: a partition key in, a call into
``backup/`` or ``selection/``, metadata out."""
