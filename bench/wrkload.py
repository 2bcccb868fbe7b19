"""Load from ``wrk`` (C, one thread), so the load generator takes little of the server's CPU:
Lua scripts for register and for the full flow (register → finish → attachRecord, each step
sent when the previous one's answer arrived, counted as three requests). Installed from the
Debian package when missing; None when it cannot be had (the Python generator is then the
fallback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_HEADER = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local hook = "%(hook)s"
local counter = 0
local errors = 0
local function register_body()
  counter = counter + 1
  return string.format(
    '{"USER_ID":1,"PHONE_NUMBER":"+7 9%%09d","TYPE":2,"LINE_NUMBER":"74950000000",' ..
    '"EXTERNAL_CALL_ID":"wrk-%%d-%%d","SHOW":0}',
    math.random(0, 999999999), counter, math.random(1, 1000000000))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%%d,"seconds":%%f,"p50":%%f,"p99":%%f,"status":%%d,"socket":%%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e6,
    latency:percentile(99) / 1e6, e.status, e.connect + e.read + e.write + e.timeout))
end
"""

REGISTER = (
    _HEADER
    + """
request = function()
  return wrk.format(nil, hook .. "telephony.externalCall.register", nil, register_body())
end
"""
)

FLOW = (
    _HEADER
    + """
local record = "%(record)s"
local queue = {}
request = function()
  local next_one = table.remove(queue, 1)
  if next_one then return next_one end
  return wrk.format(nil, hook .. "telephony.externalCall.register", nil, register_body())
end
response = function(status, headers, body)
  local call_id = body:match('"CALL_ID":"([^"]+)"')
  if status ~= 200 or not call_id then return end
  if body:find('"CRM_CREATED_LEAD"', 1, true) then
    table.insert(queue, wrk.format(nil, hook .. "telephony.externalCall.finish", nil,
      '{"CALL_ID":"' .. call_id .. '","USER_ID":1,"DURATION":42}'))
  elseif body:find('"CALL_DURATION"', 1, true) then
    table.insert(queue, wrk.format(nil, hook .. "telephony.externalCall.attachRecord", nil,
      '{"CALL_ID":"' .. call_id .. '","FILENAME":"c.wav","FILE_CONTENT":"' .. record .. '"}'))
  end
end
"""
)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50: float
    p99: float
    failed: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def available() -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "wrk"]):  # fmt: skip
            subprocess.run(command, env=env, capture_output=True, check=False)
            if shutil.which("wrk"):
                break
    return shutil.which("wrk")


def run(
    port: int, hook: str, script: str, *, connections: int, seconds: float, record: str = ""
) -> WrkResult:
    wrk = available()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "load.lua"
        path.write_text(script % {"hook": hook, "record": record})
        done = subprocess.run(
            [wrk, "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
             "-s", str(path), f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {done.stdout[-500:]} {done.stderr[-500:]}")
    data = json.loads(line[4:])
    return WrkResult(
        data["requests"], data["seconds"], data["p50"], data["p99"], data["status"] + data["socket"]
    )
