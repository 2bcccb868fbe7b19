"""A waveform picture of a recording (SVG), read as a stream from storage.

WAV recordings (PCM 8/16/24/32-bit, G.711 µ-law and A-law) are measured sample by sample
— every ``stride``-th sample, enough for a picture — so a one-hour file is read once with
one chunk in memory. MP3 would need a decoder the server does not carry; its picture says
so instead of guessing.
"""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

BARS = 600
HEIGHT = 80
SAMPLES_PER_BAR = 400  # measured per bar at most: the rest are skipped (stride)


def _g711_table(alaw: bool) -> list[int]:
    """Magnitudes of the 256 G.711 codes (ITU-T G.711), on the 16-bit PCM scale."""
    table = []
    for code in range(256):
        if alaw:
            value = code ^ 0x55
            exponent, mantissa = (value >> 4) & 7, value & 0x0F
            magnitude = (
                (mantissa << 4) + 8
                if exponent == 0
                else ((mantissa << 4) + 0x108) << (exponent - 1)
            )
        else:
            value = ~code & 0xFF
            exponent, mantissa = (value >> 4) & 7, value & 0x0F
            magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table.append(min(magnitude, 32767))
    return table


@dataclass(frozen=True)
class Format:
    tag: int  # 1 PCM, 3 float, 6 A-law, 7 µ-law, 0xFFFE extensible
    channels: int
    bits: int
    data_size: int

    @property
    def width(self) -> int:
        return max(1, self.bits // 8)


class Unsupported(ValueError):
    pass


async def _header(chunks: AsyncIterator[bytes]) -> tuple[Format, bytes]:
    """The format and the first bytes of the data chunk."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= 12 and (buffer[:4] != b"RIFF" or buffer[8:12] != b"WAVE"):
            raise Unsupported("not a WAV file")
        pos, fmt = 12, None
        while len(buffer) >= pos + 8:
            name, size = buffer[pos : pos + 4], struct.unpack("<I", buffer[pos + 4 : pos + 8])[0]
            if name == b"data":
                if fmt is None:
                    raise Unsupported("no format before the data")
                return Format(fmt[0], fmt[1], fmt[3], size), buffer[pos + 8 :]
            if len(buffer) < pos + 8 + size:
                break
            if name == b"fmt ":
                tag, channels, _rate, _rate2, _align, bits = struct.unpack(
                    "<HHIIHH", buffer[pos + 8 : pos + 24]
                )
                fmt = (tag, channels, 0, bits)
            pos += 8 + size + (size & 1)
        if len(buffer) > 1 << 20:
            raise Unsupported("no data chunk in the first MiB")
    raise Unsupported("no data chunk")


def _magnitudes(data: bytes, fmt: Format, stride: int, g711: list[int] | None) -> list[int]:
    """Absolute sample values of every ``stride``-th frame (first channel)."""
    frame = fmt.width * fmt.channels
    usable = len(data) - len(data) % frame
    picked = memoryview(data)[:usable]
    if g711 is not None:
        return [g711[b] for b in bytes(picked[:: frame * stride])]
    if fmt.width == 1:  # unsigned 8-bit
        return [abs(b - 128) << 8 for b in bytes(picked[:: frame * stride])]
    if fmt.width == 2:
        samples = array.array("h")
        samples.frombytes(bytes(picked))
        if sys.byteorder == "big":
            samples.byteswap()
        return [abs(v) for v in samples[:: fmt.channels * stride]]
    # 24/32-bit: the top two bytes of each sample are enough for a picture
    step = frame * stride
    return [
        abs(int.from_bytes(bytes(picked[i + fmt.width - 2 : i + fmt.width]), "little", signed=True))
        for i in range(0, usable, step)
    ]


async def peaks(chunks: AsyncIterator[bytes], bars: int = BARS) -> list[float]:
    """0..1 per bar."""
    fmt, first = await _header(chunks)
    if fmt.tag not in (1, 6, 7, 0xFFFE) or fmt.channels < 1 or fmt.bits not in (8, 16, 24, 32):
        raise Unsupported(f"WAV format {fmt.tag} with {fmt.bits} bits")
    g711 = _g711_table(fmt.tag == 6) if fmt.tag in (6, 7) else None
    frame = fmt.width * fmt.channels
    frames = max(1, fmt.data_size // frame)
    per_bar = max(1, -(-frames // bars))
    stride = max(1, per_bar // SAMPLES_PER_BAR)
    result = [0] * bars
    index, carry, remaining = 0, b"", fmt.data_size  # index: frames measured so far
    group = frame * stride
    async for chunk in _rest(chunks, first):
        data = carry + chunk[:remaining]
        remaining -= min(len(chunk), remaining)
        keep = len(data) - len(data) % group
        for n, value in enumerate(_magnitudes(data[:keep], fmt, stride, g711)):
            bar = min(bars - 1, (index + n * stride) // per_bar)
            if value > result[bar]:
                result[bar] = value
        index += keep // frame
        carry = data[keep:]
        if remaining <= 0:
            break
    return [min(1.0, v / 32768) for v in result]


async def _rest(chunks: AsyncIterator[bytes], first: bytes) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in chunks:
        yield chunk


def svg(values: list[float], note: str = "") -> str:
    """Bars mirrored around the middle line; a note instead when there is no data."""
    mid = HEIGHT / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {len(values) or BARS} '
        f'{HEIGHT}" preserveAspectRatio="none" role="img" aria-label="waveform">'
    ]
    if note:
        parts.append(f'<text x="8" y="{mid + 4}" font-size="12" fill="#667">{note}</text>')
    path = "".join(
        f"M{i}.5 {mid - h:.1f}V{mid + h:.1f}"
        for i, v in enumerate(values)
        if (h := max(0.5, v * (mid - 2))) > 0
    )
    if path:
        parts.append(f'<path d="{path}" stroke="#2f6fde" stroke-width="0.8"/>')
    parts.append("</svg>")
    return "".join(parts)
