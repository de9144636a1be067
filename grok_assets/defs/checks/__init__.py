"""Asset checks: the backup gate's blocking checks and the calendar-horizon warning."""
