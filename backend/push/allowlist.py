"""Which push endpoints the server will POST to: https URLs of known push services, plus exact origins
(such as a loopback test receiver) that the configuration lists. Never an arbitrary URL a client submitted."""

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = (
    "fcm.googleapis.com",  # Chrome, Edge on Android, Samsung Internet
    "updates.push.services.mozilla.com",  # Firefox
    "push.services.mozilla.com",
    "*.notify.windows.com",  # Edge on Windows (WNS)
    "web.push.apple.com",  # Safari, iOS/iPadOS Home Screen apps
    "*.push.apple.com",
)
"""Push services of the browsers cadres use. An entry `host` allows that host and its subdomains, `*.host`
only subdomains, `scheme://host:port` exactly that origin (the only way to allow http or an IP address)."""

# Outside printable ASCII, and at a backslash, URL parsers disagree with each other: refuse those outright.
_UNSAFE_URL_CHARS = re.compile(r"[^\x21-\x7e]|\\")
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_DEFAULT_PORTS = {"https": 443, "http": 80}


def is_allowed_endpoint(endpoint: str, allowed_hosts: Sequence[str]) -> bool:
    """True when `endpoint` is an https URL on an allowed push service, or exactly matches a listed origin."""
    url = _split(endpoint)
    if url is None or not url.path.startswith("/"):
        return False
    return any(_matches(url, entry.strip().lower()) for entry in allowed_hosts)


def _split(raw: str) -> SplitResult | None:
    if not raw or _UNSAFE_URL_CHARS.search(raw):
        return None
    try:
        url = urlsplit(raw)
        url.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if url.scheme not in _DEFAULT_PORTS or "@" in url.netloc or not url.hostname:
        return None
    return url


def _matches(url: SplitResult, entry: str) -> bool:
    if "://" in entry:
        origin = _split(entry)
        return origin is not None and _origin(url) == _origin(origin)
    # A bare host entry: https on the default port only, never an IP literal (list those as origins).
    host = url.hostname or ""
    if url.scheme != "https" or url.port not in (None, 443) or _is_ip(host) or not _DNS_NAME.match(host):
        return False
    if entry.startswith("*."):
        return host.endswith(entry[1:])
    return host == entry or host.endswith("." + entry)


def _origin(url: SplitResult) -> tuple[str, str, int]:
    return url.scheme, url.hostname or "", url.port or _DEFAULT_PORTS[url.scheme]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
