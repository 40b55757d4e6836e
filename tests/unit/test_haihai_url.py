"""配配メール account URL validation (Step2 of the settings screen)."""

from __future__ import annotations

import pytest

from portal.integrations.haihai import HaihaiAccountUrl, HaihaiUrlError, parse_haihai_url
from portal.settings import messages as msg

MESSAGE = (
    "正しい配配メールURLではありません。https://xxxx.hm-f.jp/mXXXXX/の形式で入力してください。"
)


@pytest.mark.parametrize(
    ("url", "host", "key"),
    [
        ("https://a03.hm-f.jp/m12345/", "a03.hm-f.jp", "m12345"),
        ("https://a03.hm-f.jp/m12345", "a03.hm-f.jp", "m12345"),
        ("  https://xxxx.hm-f.jp/mABC123/ \n", "xxxx.hm-f.jp", "mABC123"),
        ("HTTPS://A03.HM-F.JP/m00001/", "a03.hm-f.jp", "m00001"),
        ("https://my-co.hm-f.jp/m9/", "my-co.hm-f.jp", "m9"),
    ],
)
def test_production_urls_are_accepted_and_normalised(url, host, key):
    parsed = parse_haihai_url(url)
    assert parsed == HaihaiAccountUrl("https", host, None, key)
    assert parsed.base_url == f"https://{host}/{key}/"
    assert not parsed.is_local
    assert str(parsed) == parsed.base_url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "a03.hm-f.jp/m12345/",
        "http://a03.hm-f.jp/m12345/",  # production is HTTPS only
        "https://hm-f.jp/m12345/",  # no account host
        "https://a.b.hm-f.jp/m12345/",  # two labels
        "https://a03.hm-f.jp.evil.example/m12345/",
        "https://a03.hm-f.jp:8443/m12345/",  # no port in production
        "https://user:pw@a03.hm-f.jp/m12345/",
        "https://a03.hm-f.jp/",
        "https://a03.hm-f.jp/12345/",  # the path starts with m
        "https://a03.hm-f.jp/m/",
        "https://a03.hm-f.jp/m12345/extra/",
        "https://a03.hm-f.jp/m12345/?ac=GetGroupList",
        "https://a03.hm-f.jp/m12345/#top",
        "https://a03.hm-f.jp//m12345/",
        "https://-a03.hm-f.jp/m12345/",
        "https://a_03.hm-f.jp/m12345/",
        "https://a03.hm-f.jp/m123-45/",
        "http://127.0.0.1:5000/m12345/",  # local only with allow_local
    ],
)
def test_everything_else_is_refused_and_the_page_shows_the_manuals_message(url):
    with pytest.raises(HaihaiUrlError):
        parse_haihai_url(url)
    # The client carries no wording; Step2 shows the manual's sentence for this error.
    assert msg.HAIHAI_URL_FORMAT == MESSAGE


def test_non_string_is_refused():
    with pytest.raises(ValueError):
        parse_haihai_url(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://127.0.0.1:5000/m12345/", "127.0.0.1", 5000),
        ("http://localhost:8080/m1/", "localhost", 8080),
        ("http://LOCALHOST:65535/m1", "localhost", 65535),
    ],
)
def test_loopback_sandbox_urls_need_allow_local(url, host, port):
    parsed = parse_haihai_url(url, allow_local=True)
    assert (parsed.scheme, parsed.host, parsed.port) == ("http", host, port)
    assert parsed.is_local
    assert parsed.base_url == f"http://{host}:{port}/{parsed.account_key}/"
    with pytest.raises(ValueError):
        parse_haihai_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/m1/",  # a port is required
        "http://127.0.0.1:0/m1/",
        "http://127.0.0.1:70000/m1/",
        "https://127.0.0.1:5000/m1/",
        "http://127.0.0.2:5000/m1/",
        "http://10.0.0.1:5000/m1/",
        "http://example.com:5000/m1/",
        "http://localhost:5000/",
    ],
)
def test_allow_local_accepts_only_loopback_with_port(url):
    with pytest.raises(ValueError):
        parse_haihai_url(url, allow_local=True)


def test_allow_local_still_accepts_production_urls():
    assert parse_haihai_url("https://a01.hm-f.jp/m1/", allow_local=True).scheme == "https"
