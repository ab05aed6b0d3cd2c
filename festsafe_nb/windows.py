"""Maintenance windows (RUNBOOK.md "Maintenance Windows") as data, and "is it one now?".

Used by the remediation gate (a warning before acting inside a window) and by the alert
service (an alert on a component inside its window still runs, but its notification says so
and is downgraded). Times are UTC; a window may cross midnight.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pydantic import BaseModel, Field, field_validator


class MaintenanceWindow(BaseModel):
    """A recurring window: weekly (``weekday``), monthly (``day_of_month``), optionally only in
    some ``months`` (quarterly = four months)."""

    name: str
    components: list[str] = Field(description="components affected, e.g. database, ml-service")
    weekday: int | None = Field(None, ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    day_of_month: int | None = Field(None, ge=1, le=28)
    months: list[int] | None = None
    start: time
    end: time

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and not all(1 <= m <= 12 for m in v):
            raise ValueError("months are 1..12")
        return v

    def _day_matches(self, day: datetime) -> bool:
        if self.months is not None and day.month not in self.months:
            return False
        if self.weekday is not None and day.weekday() != self.weekday:
            return False
        return not (self.day_of_month is not None and day.day != self.day_of_month)

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` (aware, any zone) falls inside an occurrence of this window."""
        from datetime import UTC

        at = at.astimezone(UTC)
        crosses = self.end <= self.start
        for offset in (0, -1) if crosses else (0,):
            day = at + timedelta(days=offset)
            if not self._day_matches(day):
                continue
            begin = datetime.combine(day.date(), self.start, tzinfo=UTC)
            finish = datetime.combine(
                day.date() + timedelta(days=1 if crosses else 0), self.end, tzinfo=UTC
            )
            if begin <= at < finish:
                return True
        return False


def default_windows() -> list[MaintenanceWindow]:
    """The runbook's windows. Only the weekly one has a time in the runbook; the monthly and
    quarterly times below are this project's assumption, to be set per installation."""
    return [
        MaintenanceWindow(
            name="weekly database maintenance",
            components=["database", "postgres"],
            weekday=6,
            start=time(2, 0),
            end=time(4, 0),
        ),
        MaintenanceWindow(
            name="monthly security updates",
            components=["backend", "frontend", "workers", "ml-service", "security"],
            day_of_month=1,
            start=time(4, 0),
            end=time(6, 0),
        ),
        MaintenanceWindow(
            name="quarterly model retraining",
            components=["ml-service", "model"],
            day_of_month=1,
            months=[1, 4, 7, 10],
            start=time(6, 0),
            end=time(12, 0),
        ),
    ]


def active_windows(
    windows: list[MaintenanceWindow], at: datetime, component: str | None = None
) -> list[MaintenanceWindow]:
    """The windows open at ``at`` (for ``component`` if given)."""
    return [
        w for w in windows if w.contains(at) and (component is None or component in w.components)
    ]
