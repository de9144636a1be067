"""Imported at start-up by every Python process that has this directory on PYTHONPATH:
the processes of the daemon test, and only those.

They run under Debian's libfaketime 0.9.10 with ``FAKETIME_DONT_FAKE_MONOTONIC=1``
(a faked monotonic clock hangs every timed wait of CPython 3.11, which uses
``sem_clockwait``, a call 0.9.10 does not intercept). That version then breaks
``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``: it shifts the absolute deadline as
if monotonic were faked and the kernel answers EINVAL, so every ``time.sleep()``
raises ``OSError(22)``. ``select()`` is passed through untouched, so ``time.sleep``
becomes a ``select()`` loop against the real monotonic clock.
"""

import os

if (
    "libfaketime" in os.environ.get("LD_PRELOAD", "")
    and os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1"
):
    import select
    import time

    _monotonic = time.monotonic

    def _faketime_safe_sleep(secs: float) -> None:
        if secs < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = _monotonic() + secs
        while True:
            remaining = deadline - _monotonic()
            if remaining <= 0:
                return
            select.select([], [], [], remaining)

    _faketime_safe_sleep.__doc__ = time.sleep.__doc__
    time.sleep = _faketime_safe_sleep
