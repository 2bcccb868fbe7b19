"""The RECORD_URL fetcher against HTTP servers the test starts on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from b24tel.netguard import refusal
from b24tel.recordings.errors import FetchError
from b24tel.recordings.fetcher import FetchPolicy, SafeFetcher, file_name_from_url, parse_allowlist
from tests.conftest import FIXTURES

AUDIO = (FIXTURES / "call-32k-mono.mp3").read_bytes()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        if path == "/ok.mp3":
            self._send(200, AUDIO)
        elif path == "/missing":
            self._send(404, b"nope")
        elif path == "/error":
            self._send(500, b"boom")
        elif path == "/slow":
            time.sleep(2)
            self._send(200, AUDIO)
        elif path == "/big":
            self._send(200, b"x" * 50_000)
        elif path == "/chunked-big":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"1388\r\n" + b"x" * 5000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            self._redirect("/ok.mp3" if n == 0 else f"/redirect/{n - 1}")
        elif path == "/to-blocked":
            self._redirect(f"http://127.0.0.2:{self.server.server_address[1]}/ok.mp3")
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except BrokenPipeError:
            pass  # the client gave up (timeout tests)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def fetcher(allow: str = "127.0.0.1/32", **kw: object) -> SafeFetcher:
    policy = dict(
        allowlist=parse_allowlist(allow),
        connect_timeout=2.0,
        read_timeout=0.5,
        total_timeout=10.0,
        max_size=20_000_000,
        verify_tls=True,
    )
    policy.update(kw)
    return SafeFetcher(FetchPolicy(**policy))  # type: ignore[arg-type]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


async def fetch(f: SafeFetcher, url: str) -> bytes:
    return await f.fetch_into(url, collect)


async def test_ok(server: str) -> None:
    assert await fetch(fetcher(), server + "/ok.mp3") == AUDIO


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/error", 500)])
async def test_http_errors(server: str, path: str, status: int) -> None:
    with pytest.raises(FetchError) as err:
        await fetch(fetcher(), server + path)
    assert str(err.value) == f"Server returns HTTP error code {status}"


async def test_slow_server_times_out(server: str) -> None:
    with pytest.raises(FetchError, match=r"^TIMEOUT: "):
        await fetch(fetcher(), server + "/slow")


async def test_total_timeout(server: str) -> None:
    with pytest.raises(FetchError, match=r"^TIMEOUT: no complete answer within 0.3 s"):
        await fetch(fetcher(read_timeout=5.0, total_timeout=0.3), server + "/slow")


@pytest.mark.parametrize("path", ["/big", "/chunked-big"])
async def test_oversize(server: str, path: str) -> None:
    with pytest.raises(FetchError, match=r"^SIZE: the recording exceeds the limit of 10000"):
        await fetch(fetcher(max_size=10_000), server + path)


async def test_redirect_chain(server: str) -> None:
    # /redirect/N answers with N + 1 redirects
    assert await fetch(fetcher(), server + "/redirect/4") == AUDIO
    with pytest.raises(FetchError, match=r"^REDIRECTS: more than 5 redirects"):
        await fetch(fetcher(), server + "/redirect/5")


async def test_redirect_to_refused_address(server: str) -> None:
    with pytest.raises(FetchError) as err:
        await fetch(fetcher(), server + "/to-blocked")
    assert str(err.value).startswith("BLOCKED: 127.0.0.2 is a loopback address")


async def test_loopback_refused_until_allowlisted(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost"):
        with pytest.raises(FetchError, match=r"^BLOCKED: .* is a loopback address"):
            await fetch(fetcher(allow=""), f"http://{host}:{port}/ok.mp3")
        assert await fetch(fetcher(allow="127.0.0.0/8"), f"http://{host}:{port}/ok.mp3") == AUDIO


@pytest.mark.parametrize(
    "host", ["[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "10.1.2.3", "169.254.169.254", "[fe80::1]"]
)
async def test_refused_addresses(host: str) -> None:
    with pytest.raises(FetchError, match=r"^BLOCKED: "):
        await fetch(fetcher(allow="192.0.2.1/32"), f"http://{host}:9/x.mp3")


async def test_connection_refused_and_bad_urls() -> None:
    with pytest.raises(FetchError, match=r"^CONNECT: "):
        await fetch(fetcher(), "http://127.0.0.1:9/x.mp3")
    for url in ("/recording/x.mp3", "ftp://example.com/x.mp3", "file:///etc/passwd"):
        with pytest.raises(FetchError, match=r"^URL: "):
            await fetch(fetcher(), url)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.1.1", True),
        ("224.0.0.1", True),
        ("0.0.0.0", True),
        ("240.0.0.1", True),
        ("100.64.0.1", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:8.8.8.8", False),
        # IPv6 addresses that carry an IPv4 one are judged by it too
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", True),  # 6to4 of 192.168.1.1
        ("2002:808:808::", False),  # 6to4 of 8.8.8.8
        ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", False),  # NAT64 of 8.8.8.8 (DNS64 on an IPv6-only host)
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo
    ],
)
def test_refusal_table(address: str, refused: bool) -> None:
    assert (refusal(ipaddress.ip_address(address), []) is not None) is refused


def test_embedded_address_is_named() -> None:
    reason = refusal(ipaddress.ip_address("2002:7f00:1::"), [])
    assert reason == "2002:7f00:1:: is a loopback address (it embeds 127.0.0.1)"
    allowed = parse_allowlist("127.0.0.1/32")
    assert refusal(ipaddress.ip_address("64:ff9b::7f00:1"), allowed) is None


def test_allowlist_and_names() -> None:
    nets = parse_allowlist("192.168.10.0/24, 127.0.0.1/32")
    assert refusal(ipaddress.ip_address("192.168.10.7"), nets) is None
    assert refusal(ipaddress.ip_address("::ffff:192.168.10.7"), nets) is None
    assert refusal(ipaddress.ip_address("192.168.11.7"), nets) is not None
    assert file_name_from_url("https://pbx/rec/2026/call%201.mp3?sig=x") == "call%201.mp3"
    assert file_name_from_url("https://pbx/") == ""
