"""Values as RouterOS stores and prints them.

Choices, from RouterOS's documented behaviour (help.mikrotik.com, "Scripting" and "Queues"):

* Durations (``lease-time``, ``interval``, ``persistent-keepalive`` …) are printed in RouterOS's
  compact form: ``00:30:00`` → ``30m``, ``3600`` (seconds) → ``1h``, ``90m`` → ``1h30m``, ``7d`` → ``1w``.
  Times of day (``start-time``) stay ``HH:MM:SS``.
* Rates (queue ``max-limit``, ``limit-at``, ``burst-limit``, ``burst-threshold``) are kept as
  ``upload/download`` and printed with the largest decimal unit that divides them: ``25000000/25000000``
  → ``25M/25M``, ``1500k`` stays ``1500k``; a single value applies to both directions (``10M`` →
  ``10M/10M``). (The API returns plain bits per second; the CLI prints units.)
* ``/ip address`` without a prefix length gets ``/32``; its ``network`` is derived.
"""

from __future__ import annotations

import ipaddress
import re

from desa.routeros.errors import invalid_value

DURATION_ARGS = {
    "lease-time", "interval", "persistent-keepalive", "keepalive-timeout", "idle-timeout", "session-timeout",
    "cache-max-ttl", "ageing-time", "arp-timeout", "dpd-interval", "login-timeout", "max-message-age",
    "forward-delay", "timeout", "keepalive", "udp-timeout", "udp-stream-timeout", "icmp-timeout",
    "tcp-established-timeout", "uptime-limit", "mac-cookie-timeout", "http-cookie-lifetime",
    "status-autorefresh", "query-server-timeout", "query-total-timeout", "burst-time", "poll-interval",
    "startup-delay", "loop-protect-disable-time", "loop-protect-send-interval",
}
RATE_ARGS = {"max-limit", "limit-at", "burst-limit", "burst-threshold"}

_UNITS = [("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
_DUR_PART = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|ms|m|s)")


def parse_duration(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)w)?\s*(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?", text)
    if m:
        total = int(m.group(3)) * 3600 + int(m.group(4)) * 60 + int(m.group(5))
        total += int(m.group(1) or 0) * 86400 + int(m.group(2) or 0) * 604800
        if m.group(6):
            total += float("0." + m.group(6))
        return float(total)
    pos = 0
    total = 0.0
    for part in _DUR_PART.finditer(text):
        if part.start() != pos:
            return None
        pos = part.end()
        n = float(part.group(1))
        unit = part.group(2)
        total += n / 1000 if unit == "ms" else n * dict(_UNITS)[unit]
    return total if pos == len(text) else None


def format_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    ms = round((seconds - whole) * 1000)
    out = []
    for unit, size in _UNITS:
        if whole >= size:
            out.append(f"{whole // size}{unit}")
            whole %= size
    if ms:
        out.append(f"{ms}ms")
    return "".join(out)


def _parse_rate(text: str) -> int | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKMG]?)", text.strip())
    if not m:
        return None
    mult = {"": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3}[m.group(2)]
    return int(float(m.group(1)) * mult)


def format_rate(bits: int) -> str:
    for suffix, size in (("G", 1000**3), ("M", 1000**2), ("k", 1000)):
        if bits and bits % size == 0:
            return f"{bits // size}{suffix}"
    return str(bits)


def normalise(arg: str, value: str, arg_info: dict | None = None) -> str:
    """The value RouterOS would print back for ``arg=value``; raises for malformed values."""
    info = arg_info or {}
    type_text = info.get("t", "")
    if arg in DURATION_ARGS and value not in ("", "none", "auto", "never", "infinity", "off"):
        if "," in value or "/" in value:
            parts = re.split(r"([,/])", value)
            return "".join(p if p in ",/" else _norm_duration(arg, p) for p in parts)
        return _norm_duration(arg, value)
    if arg in RATE_ARGS:
        parts = value.split("/")
        if len(parts) == 1:
            parts = parts * 2
        rates = [_parse_rate(p) for p in parts]
        if any(r is None for r in rates):
            raise invalid_value(arg)
        return "/".join(format_rate(r) for r in rates)  # type: ignore[arg-type]
    if type_text == "A.B.C.D (IP address)" and value:
        try:
            ipaddress.ip_interface(value)
        except ValueError:
            raise invalid_value(arg) from None
        return value
    m = re.match(r"Num; (\d+)\.\.(\d+) \(integer number\)$", type_text)
    if m and value and "/" not in value:
        enum = info.get("e") or []
        if value in enum:
            return value
        found = re.fullmatch(r"(\d+)([kMG]?)", value)
        if not found:
            raise invalid_value(arg)
        n = int(found.group(1)) * {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3}[found.group(2)]
        if not int(m.group(1)) <= n <= int(m.group(2)):
            raise RouterOSError_range(arg, m.group(1), m.group(2))
        return str(n) if not found.group(2) else value
    return value


def _norm_duration(arg: str, value: str) -> str:
    seconds = parse_duration(value)
    if seconds is None:
        raise invalid_value(arg)
    return format_duration(seconds)


def RouterOSError_range(arg: str, low: str, high: str):  # noqa: N802 - reads like the message
    from desa.routeros.errors import RouterOSError

    return RouterOSError(f"value of {arg} out of range ({low}..{high})")


def interface_address(value: str) -> tuple[str, str]:
    """``/ip address`` value → (address with prefix, network)."""
    try:
        iface = ipaddress.IPv4Interface(value)
    except ValueError:
        raise invalid_value("address") from None
    text = value if "/" in value else f"{value}/32"
    if "/" in value and "." in value.split("/")[1]:
        text = f"{iface.ip}/{iface.network.prefixlen}"
    return text, str(iface.network.network_address)
