"""Peak memory of storing a 200 MB recording through the ingestion helpers.

Each case runs in a fresh process (so one case's garbage cannot hide another's), generates
the request body on the fly, and samples its own RSS every 5 ms while it ingests:

- ``json``: a JSON body with FILE_CONTENT (base64) → spooled → decoded as a stream
- ``form``: the same as a urlencoded form body
- ``multipart``: the raw bytes as the ``file`` part of a multipart upload
- ``stream``: raw bytes from an async source (a RECORD_URL download)

into local disk and into S3 (a moto server in a separate process on 127.0.0.1). Prints the
peak RSS growth per case; the target is at most 64 MB in every case.

    python bench/ingest_memory.py [--size-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PeakRss, free_port

from b24tel.simulate import wav_header

MB = 1024 * 1024
TARGET_MB = 64
CASES = ("json", "form", "multipart", "stream")


def raw_chunks(size: int):  # type: ignore[no-untyped-def]
    """A valid WAV of ``size`` bytes: header + a repeating tone."""
    yield wav_header(size - 44)
    block = bytes((i * 37) % 256 for i in range(MB))
    left = size - 44
    while left > 0:
        n = min(left, MB)
        yield block[:n]
        left -= n


def b64_chunks(size: int):  # type: ignore[no-untyped-def]
    """Base64 of raw_chunks, re-chunked on 3-byte boundaries."""
    carry = b""
    for chunk in raw_chunks(size):
        data = carry + chunk
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        yield base64.b64encode(data[:cut])
    if carry:
        yield base64.b64encode(carry)


async def body_stream(kind: str, size: int) -> AsyncIterator[bytes]:
    if kind == "json":
        yield b'{"CALL_ID":"externalCall.x.1","FILENAME":"big.wav","FILE_CONTENT":"'
        for chunk in b64_chunks(size):
            yield chunk.replace(b"/", b"\\/")  # as PHP's encoder sends it
        yield b'"}'
    elif kind == "form":
        yield b"CALL_ID=externalCall.x.1&FILENAME=big.wav&FILE_CONTENT="
        for chunk in b64_chunks(size):
            yield chunk.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
    elif kind == "multipart":
        yield (
            b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        )
        for chunk in raw_chunks(size):
            yield chunk
        yield b"\r\n--BOUNDARY--\r\n"
    else:
        for chunk in raw_chunks(size):
            yield chunk


async def ingest(kind: str, store, size: int) -> None:  # type: ignore[no-untyped-def]
    from b24tel.recordings.ingest import read_multipart_file
    from b24tel.rest.decoding import decode_request

    lazy = frozenset({("FILE_CONTENT",)})
    if kind in ("json", "form"):
        ctype = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
        decoded = await decode_request("", ctype, body_stream(kind, size), 4 * size, lazy)
        try:
            stored = await store.from_base64(decoded.params["FILE_CONTENT"].iter_bytes(), "2026-03")
        finally:
            decoded.close()
    elif kind == "multipart":
        reader = await read_multipart_file(
            body_stream(kind, size),
            "multipart/form-data; boundary=BOUNDARY",
            "file",
            store.new_staging,
            4 * size,
        )
        stored = await store.from_staging(reader.sink, "2026-03")
    else:
        stored = await store.from_stream(body_stream(kind, size), "2026-03")
    assert stored.size == size, (stored.size, size)
    await store.storage.delete(stored.key)


def run_case(kind: str, backend: str, size: int, endpoint: str) -> None:
    """In the child process: print the peak RSS growth in bytes."""
    import psutil

    from b24tel.app import build_recordings
    from b24tel.clock import Clock
    from b24tel.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        extra = {}
        if backend == "s3":
            extra = {
                "storage_url": "s3://bench/recordings",
                "s3_endpoint_url": endpoint,
                "s3_region": "us-east-1",
                "s3_access_key_id": "bench",
                "s3_secret_access_key": "bench",
            }
        settings = Settings.load(env={}, data_dir=tmp, **extra)
        store = build_recordings(settings, Clock())
        if backend == "s3":
            asyncio.run(store.storage.ensure_bucket())
        with PeakRss(psutil.Process()) as rss:
            started = time.perf_counter()
            asyncio.run(ingest(kind, store, size))
            elapsed = time.perf_counter() - started
        print(json.dumps({"growth": rss.growth, "seconds": elapsed}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = args.size_mb * MB
    if args.case:
        kind, backend = args.case.split(":")
        run_case(kind, backend, size, args.endpoint)
        return
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(
            f"peak RSS growth while storing a {args.size_mb} MB recording "
            f"(target <= {TARGET_MB} MB)"
        )
        print(f"{'source':<12}{'backend':<9}{'growth MB':>11}{'seconds':>10}  verdict")
        worst = 0.0
        for backend in ("local", "s3"):
            for kind in CASES:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--size-mb",
                        str(args.size_mb),
                        "--case",
                        f"{kind}:{backend}",
                        "--endpoint",
                        endpoint,
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
                growth = result["growth"] / MB
                worst = max(worst, growth)
                verdict = "met" if growth <= TARGET_MB else "NOT met"
                print(f"{kind:<12}{backend:<9}{growth:>11.1f}{result['seconds']:>10.2f}  {verdict}")
        print(f"worst: {worst:.1f} MB -> target {'met' if worst <= TARGET_MB else 'NOT met'}")
    finally:
        moto.terminate()
        moto.wait(10)


if __name__ == "__main__":
    main()
