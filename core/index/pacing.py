"""How hard background indexing may work on the user's computer.

The background service is a guest: its process runs at a lower scheduling priority, so
whatever the user is doing gets the cores first, and on battery power it rests after each
batch of work for a share of the time the batch took, so a laptop's charge lasts. Nothing
here runs while the service is idle (the battery is looked at between batches only).

    pacer = Pacer()
    pacer.rest_after(seconds_worked, cancel)    # between two batches of indexing work
    lower_priority()                            # once, before the service starts its threads
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

from core.cancel import CancelToken

log = logging.getLogger(__name__)

#: On battery, the share of the time indexing works: it rests as long as it worked.
BATTERY_DUTY = 0.5
#: The power source is looked at again after this long (only while there is work).
PROBE_EVERY_S = 30.0
#: The niceness the service takes on Unix (0 is normal, 19 the lowest priority): low enough
#: that a build or a video call is not slowed, high enough that searches still run promptly.
SERVICE_NICENESS = 10
_REST_STEP_S = 0.2


def on_battery_power() -> bool:
    """True when the computer runs on its battery (a desktop, or no answer, is False)."""
    import psutil  # here: only the service paces its work

    try:
        battery = psutil.sensors_battery()
    except (OSError, RuntimeError, NotImplementedError) as exc:  # no power information here
        log.debug("cannot tell the power source: %s", exc)
        return False
    return battery is not None and battery.power_plugged is False


class Pacer:
    """Rests between batches of indexing work while on battery power."""

    def __init__(
        self,
        on_battery: Callable[[], bool] = on_battery_power,
        duty: float = BATTERY_DUTY,
        probe_every: float = PROBE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = on_battery
        self.duty = duty
        self.probe_every = probe_every
        self._clock = clock
        self._probed_at: float | None = None
        #: What the power source was when last looked at.
        self.on_battery = False
        #: Seconds spent resting so far.
        self.rested_s = 0.0

    def battery_now(self) -> bool:
        now = self._clock()
        if self._probed_at is None or now - self._probed_at >= self.probe_every:
            self._probed_at = now
            self.on_battery = self._probe()
        return self.on_battery

    def rest_after(self, worked_s: float, cancel: CancelToken | None = None) -> float:
        """Rest for the share of ``worked_s`` the duty asks on battery (none on mains power);
        a cancel ends the rest at once. Returns the seconds rested."""
        if worked_s <= 0 or not self.battery_now():
            return 0.0
        rest = worked_s * (1 - self.duty) / self.duty
        started = self._clock()
        while (left := rest - (self._clock() - started)) > 0:
            if cancel is not None and cancel.cancelled:
                break
            time.sleep(min(_REST_STEP_S, left))
        rested = self._clock() - started
        self.rested_s += rested
        return rested


def lower_priority() -> None:
    """Give this process (and the threads and processes it starts from now on) a lower
    scheduling priority than the user's programs. Never raises: at normal priority the
    service still works."""
    import psutil

    try:
        if sys.platform == "win32":
            psutil.Process().nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
        else:
            current = os.nice(0)
            if current < SERVICE_NICENESS:
                os.nice(SERVICE_NICENESS - current)
    except (OSError, psutil.Error) as exc:
        log.warning("could not lower the service's priority (%s); it runs at normal "
                    "priority", exc)
