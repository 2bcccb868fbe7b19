"""What a recording is: WAV (RIFF/WAVE with a common telephony codec) or MP3 (MPEG audio
frames, optional ID3), checked and measured before it is accepted.

The reference only sniffs a MIME type (docs/reference/telephony.md, "attachRecord"), so a
truncated file passes; we also compare the size a header declares with the bytes that
arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen.mp3
from mutagen.mp3._util import VBRIHeader, VBRIHeaderError, XingHeader, XingHeaderError

from b24tel.recordings.errors import NotARecording

# the reference's record-file check message (docs/reference/telephony.md, "attachRecord");
# our reasons follow it

# WAVE format tags we accept, with a codec name
WAV_CODECS = {
    0x0001: "pcm",
    0x0003: "pcm_float",
    0x0006: "pcm_alaw",
    0x0007: "pcm_mulaw",
    0x0002: "adpcm_ms",
    0x0011: "adpcm_ima",
    0x0031: "gsm_ms",
    0x0040: "g721",
    0x0045: "g726",
    0x0064: "g726",
    0x0055: "mp3",
}
EXTENSIBLE = 0xFFFE
# streaming writers leave these in the data size until they finish
PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)


@dataclass(frozen=True)
class AudioInfo:
    container: str  # wav / mp3
    codec: str
    duration: float
    channels: int
    sample_rate: int
    bit_rate: int
    content_type: str
    extension: str


def inspect(path: Path) -> AudioInfo:
    with path.open("rb") as fh:
        head = fh.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav(path)
    try:
        return _mp3(path)
    except NotARecording:
        raise
    except Exception as exc:  # mutagen's own errors: not MPEG audio
        raise NotARecording("not a WAV or MP3 recording") from exc


# --- WAV ------------------------------------------------------------------------------------


def _wav(path: Path) -> AudioInfo:
    size = path.stat().st_size
    fmt: bytes | None = None
    samples: int | None = None
    data_size: int | None = None
    with path.open("rb") as fh:
        fh.seek(12)
        while True:
            header = fh.read(8)
            if len(header) < 8:
                break
            chunk_id, chunk_size = struct.unpack("<4sI", header)
            start = fh.tell()
            if chunk_id == b"fmt ":
                fmt = fh.read(min(chunk_size, 64))
            elif chunk_id == b"fact" and chunk_size >= 4:
                samples = struct.unpack("<I", fh.read(4))[0]
            elif chunk_id == b"data":
                available = size - start
                if chunk_size in PLACEHOLDER_SIZES:
                    chunk_size = available
                if chunk_size > available:
                    raise NotARecording(
                        f"truncated: the WAV header declares {chunk_size} "
                        f"bytes of audio, {available} arrived"
                    )
                data_size = chunk_size
                break
            fh.seek(start + chunk_size + (chunk_size & 1))
    if fmt is None or len(fmt) < 16:
        raise NotARecording("WAV without a format chunk")
    if data_size is None:
        raise NotARecording("WAV without audio data")
    tag, channels, rate, byte_rate, _align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the tag
    codec = WAV_CODECS.get(tag)
    if codec is None:
        raise NotARecording(f"unsupported WAV codec 0x{tag:04x}")
    if codec == "pcm":
        codec = f"pcm_{'u8' if bits == 8 else f's{bits}le'}"
    if not channels or not rate or not byte_rate:
        raise NotARecording("WAV format chunk with zero channels or rate")
    duration = (
        samples / rate
        if samples and codec.startswith(("adpcm", "gsm", "g7"))
        else data_size / byte_rate
    )
    return AudioInfo("wav", codec, duration, channels, rate, byte_rate * 8, "audio/wav", "wav")


# --- MP3 ------------------------------------------------------------------------------------


def _mp3(path: Path) -> AudioInfo:
    audio = mutagen.mp3.MP3(str(path))  # type: ignore[no-untyped-call]
    info: Any = audio.info  # mutagen's stubs type it as optional; MP3() always sets it
    if info.layer != 3:
        raise NotARecording(f"MPEG layer {info.layer} audio, not MP3")
    declared = _declared_stream_size(path, info)
    actual = _stream_size(path, info.frame_offset)
    if declared and actual < declared:
        raise NotARecording(
            f"truncated: the MP3 header declares {declared} bytes, {actual} arrived"
        )
    if info.sketchy:
        raise NotARecording("no valid MPEG audio frames")
    codec = "mp3"
    return AudioInfo(
        "mp3",
        codec,
        float(info.length),
        int(info.channels),
        int(info.sample_rate),
        int(info.bitrate),
        "audio/mpeg",
        "mp3",
    )


def _declared_stream_size(path: Path, info: object) -> int | None:
    """Bytes of audio the Xing/Info (LAME) or VBRI header says the stream has."""
    with path.open("rb") as fh:
        for header, error in ((XingHeader, XingHeaderError), (VBRIHeader, VBRIHeaderError)):
            offset = header.get_offset(info)  # type: ignore[no-untyped-call]
            fh.seek(info.frame_offset + offset)  # type: ignore[attr-defined]
            try:
                parsed = header(fh)
            except error:
                continue
            size = int(parsed.bytes)
            return size if size > 0 else None
    return None


def _stream_size(path: Path, frame_offset: int) -> int:
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size >= 128:
            fh.seek(size - 128)
            if fh.read(3) == b"TAG":  # ID3v1 at the end is not audio
                size -= 128
    return size - frame_offset
