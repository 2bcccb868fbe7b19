"""The settings of bridge mode (docs/bridge.md): the portal upstream and how calls reach
it. Part of ``b24tel.config.Settings``; documented in the same table."""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from b24tel.config_values import SettingsError, setting

WEBHOOK_SHAPE = "https://<portal>/rest/<user>/<code>/"
OAUTH_SHAPE = "https://<portal>/rest/"
RECORD_MODES = ("content", "url")


@dataclass(frozen=True)
class BridgeSettings:
    upstream_url: str = setting(
        "",
        "Bridge mode: an incoming webhook of the Bitrix24 portal every REST call is passed "
        "on to, `https://<portal>/rest/<user>/<code>/` — or, with `upstream_client_id`, the "
        "portal's REST address `https://<portal>/rest/`. Empty: b24tel is the portal itself.",
        example="https://company.bitrix24.com/rest/1/abc123def456/",
    )
    upstream_client_id: str = setting(
        "",
        "Bridge mode through a local application of the portal instead of a webhook: its "
        "client id (with `upstream_client_secret` and `upstream_refresh_token`).",
        example="local.65f0c1a2b3c4d5.12345678",
    )
    upstream_client_secret: str = setting("", "The local application's client secret.")
    upstream_refresh_token: str = setting(
        "",
        "The application's refresh token to start from (from its install); the tokens it is "
        "refreshed to are kept in the database, shared by every instance.",
    )
    upstream_oauth_url: str = setting(
        "",
        "Where the application's tokens are refreshed. Empty: the portal's own "
        "`https://<portal>/oauth/token/` (on-premises); the cloud's is "
        "`https://oauth.bitrix.info/oauth/token/`.",
    )
    upstream_timeout: float = setting(5.0, "Seconds the portal has to answer a call passed on.")
    upstream_rate: float = setting(
        2.0, "Calls a second the bridge sends the portal at most (the cloud allows 2)."
    )
    bridge_card_max_age: float = setting(
        60.0, "Seconds a waiting `show`/`hide` stays worth forwarding; older ones are dropped."
    )
    bridge_history_days: int = setting(
        30,
        "Days a forwarded write stays listed (call pages, the Bridge page); waiting and "
        "failed ones stay until they are forwarded or skipped.",
    )
    bridge_record_mode: str = setting(
        "content",
        "How a recording sent as `FILE_CONTENT` goes on to the portal: `content` (streamed "
        "as it came) or `url` (kept here first; the portal gets a signed `RECORD_URL` to "
        "fetch it from `public_url`, which it must be able to reach).",
    )
    upstream_allow_http: bool = setting(
        False, "Let `upstream_url` be plain http on a loopback address (tests only)."
    )

    @property
    def upstream_oauth(self) -> bool:
        return bool(self.upstream_client_id)

    @property
    def upstream_origin(self) -> str:
        """``https://company.bitrix24.com`` of the portal upstream; empty when this server
        is the portal."""
        return self.upstream_url.split("/rest/", 1)[0] if self.upstream_url else ""

    def check_bridge(self, public_url: str) -> None:
        """The upstream's address and credentials fit together. Its values are secrets: no
        message repeats them."""
        if not self.upstream_url:
            return
        if self.bridge_history_days < 1:
            raise SettingsError("bridge_history_days must be 1 or more")
        if self.bridge_record_mode not in RECORD_MODES:
            raise SettingsError("bridge_record_mode must be content or url")
        if self.bridge_record_mode == "url" and not public_url:
            raise SettingsError(
                "bridge_record_mode = url needs public_url: the address the portal fetches "
                "recordings from"
            )
        if self.upstream_oauth and not (
            self.upstream_client_secret and self.upstream_refresh_token
        ):
            raise SettingsError(
                "upstream_client_id needs upstream_client_secret and upstream_refresh_token"
            )
        check_upstream_url(self.upstream_url, self.upstream_allow_http, self.upstream_oauth)
        if self.upstream_oauth_url:
            check_upstream_url(self.upstream_oauth_url, self.upstream_allow_http, None)


def check_upstream_url(url: str, allow_http: bool, oauth: bool | None) -> None:
    """An incoming webhook of the portal (``oauth`` False), its REST address (True) or any
    address of it (None); plain http only to this machine and only when allowed."""
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    webhook = len(path) == 3 and path[0] == "rest" and path[1].isascii() and path[1].isdigit()
    if oauth is False and not webhook:
        raise SettingsError(f"upstream_url must be an incoming webhook URL: {WEBHOOK_SHAPE}")
    if oauth and path != ["rest"]:
        raise SettingsError(f"with upstream_client_id, upstream_url is {OAUTH_SHAPE}")
    if parts.scheme == "https" and parts.hostname:
        return
    loopback = parts.hostname == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(parts.hostname or "").is_loopback
    if parts.scheme == "http" and loopback and allow_http:
        return
    raise SettingsError(
        "upstream_url must use https (plain http only to a loopback address, with "
        "upstream_allow_http)"
    )
