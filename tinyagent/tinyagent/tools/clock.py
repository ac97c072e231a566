"""Current date and time, in any IANA time zone (models do not know what day it is).

    >>> current_time("Asia/Shanghai")            # doctest: +SKIP
    '2025-03-01 14:05:09 CST (UTC+08:00), Saturday'

Limits: uses the machine's clock and the system tz database (``zoneinfo``); an unknown zone name is
an error that lists examples.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tinyagent.tool import tool

__all__ = ["current_time", "now_text"]


def now_text(tz: str = "UTC", now: datetime | None = None) -> str:
    """``now`` (default: the current instant) formatted in zone ``tz``."""
    try:
        zone = timezone.utc if tz.upper() == "UTC" else ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {tz!r}; use an IANA name like 'Asia/Shanghai', 'Europe/Berlin' or 'UTC'"
        ) from None
    moment = (now or datetime.now(timezone.utc)).astimezone(zone)
    offset = moment.strftime("%z")
    return (
        f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname()} (UTC{offset[:3]}:{offset[3:]}), {moment:%A}"
    )


@tool
def current_time(timezone_name: str = "UTC") -> str:
    """Get the current date, time and weekday.

    Args:
        timezone_name: an IANA time zone such as "Asia/Shanghai" or "America/New_York".
    """
    return now_text(timezone_name)
