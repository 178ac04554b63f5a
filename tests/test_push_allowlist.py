"""The server posts only to known push services (and to origins the configuration lists exactly)."""

import pytest

from backend.push.allowlist import DEFAULT_ALLOWED_HOSTS, is_allowed_endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
        "https://web.push.apple.com/QGRpZmZlcmVudA",
        "https://api.push.apple.com/3/device/x",
        "https://wns2-bl2p.notify.windows.com/w/?token=BQYAAAB",
        "https://FCM.googleapis.com:443/fcm/send/x",
    ],
)
def test_it_allows_the_push_services_of_real_browsers(endpoint: str) -> None:
    assert is_allowed_endpoint(endpoint, DEFAULT_ALLOWED_HOSTS)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "ftp://fcm.googleapis.com/x",
        "https://evil.example.com/fcm/send/x",
        "https://fcm.googleapis.com.evil.example.com/x",
        "https://evilfcm.googleapis.com.example/x",
        "https://notfcm.googleapis.com/x",
        "https://notify.windows.com/w/x",  # `*.` entries allow subdomains only
        "https://user@fcm.googleapis.com/x",  # userinfo
        "https://fcm.googleapis.com@evil.example.com/x",
        "https://fcm.googleapis.com\\@evil.example.com/x",
        "https://fcm.googleapis.com:8443/x",  # a bare host entry means the default port
        "https://fcm.googleapis.com./x",
        "https://142.250.72.10/fcm/send/x",  # IP literal not listed
        "https://[::1]/x",
        "https://fcm.googleapis.com",  # no path
        "https://fcm.googleapis.com/x y",
        "",
        "fcm.googleapis.com/fcm/send/x",
    ],
)
def test_it_refuses_anything_else(endpoint: str) -> None:
    assert not is_allowed_endpoint(endpoint, DEFAULT_ALLOWED_HOSTS)


def test_a_listed_origin_allows_exactly_that_scheme_host_and_port() -> None:
    allowed = [*DEFAULT_ALLOWED_HOSTS, "http://127.0.0.1:8123"]

    assert is_allowed_endpoint("http://127.0.0.1:8123/wpush/abc", allowed)
    assert not is_allowed_endpoint("http://127.0.0.1:8124/wpush/abc", allowed)
    assert not is_allowed_endpoint("https://127.0.0.1:8123/wpush/abc", allowed)
    assert not is_allowed_endpoint("http://localhost:8123/wpush/abc", allowed)
    assert not is_allowed_endpoint("http://127.0.0.1:8123/wpush/abc", DEFAULT_ALLOWED_HOSTS)


def test_a_listed_https_origin_does_not_open_plain_http() -> None:
    allowed = ["https://127.0.0.1:8443"]

    assert is_allowed_endpoint("https://127.0.0.1:8443/w/1", allowed)
    assert not is_allowed_endpoint("http://127.0.0.1:8443/w/1", allowed)
