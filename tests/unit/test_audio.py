"""Audio inspection on every fixture (tests/fixtures/audio/README.md) and on edge cases."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from b24tel.recordings.audio import inspect
from b24tel.recordings.errors import REFERENCE_REFUSAL, NotARecording
from tests.conftest import FIXTURES

# file → (container, codec, channels, rate, duration) from the fixtures' README
EXPECTED = {
    "call-8k-mono.wav": ("wav", "pcm_s16le", 1, 8000, 10.341),
    "call-8k-stereo.wav": ("wav", "pcm_s16le", 2, 8000, 5.686),
    "call-8k-ulaw.wav": ("wav", "pcm_mulaw", 1, 8000, 10.341),
    "call-32k-mono.mp3": ("mp3", "mp3", 1, 8000, 10.341),
    "call-vbr-id3.mp3": ("mp3", "mp3", 2, 8000, 5.686),
    "silence-1s.wav": ("wav", "pcm_s16le", 1, 8000, 1.000),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_valid_fixtures(name: str) -> None:
    info = inspect(FIXTURES / name)
    container, codec, channels, rate, duration = EXPECTED[name]
    assert (info.container, info.codec, info.channels, info.sample_rate) == (
        container,
        codec,
        channels,
        rate,
    )
    assert abs(info.duration - duration) <= 0.010
    assert info.content_type == ("audio/wav" if container == "wav" else "audio/mpeg")
    assert info.bit_rate > 0


def test_not_audio_refused() -> None:
    with pytest.raises(NotARecording) as err:
        inspect(FIXTURES / "not-audio.mp3")
    assert str(err.value).startswith(REFERENCE_REFUSAL) and "not a WAV or MP3" in str(err.value)


def test_truncated_refused() -> None:
    with pytest.raises(NotARecording) as err:
        inspect(FIXTURES / "truncated.mp3")
    assert "truncated" in err.value.reason and "42336" in err.value.reason


def wav(
    path: Path,
    *,
    tag: int = 1,
    bits: int = 16,
    data: bytes = b"\0" * 1600,
    declared: int | None = None,
    extensible: bool = False,
) -> Path:
    channels, rate = 1, 8000
    block = channels * max(1, bits // 8)
    fmt = struct.pack(
        "<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block, block, bits
    )
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + b"\0" * 14
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data) if declared is None else declared) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_wav_variants(tmp_path: Path) -> None:
    assert inspect(wav(tmp_path / "a.wav")).duration == pytest.approx(0.1)
    assert inspect(wav(tmp_path / "e.wav", extensible=True)).codec == "pcm_s16le"
    assert inspect(wav(tmp_path / "al.wav", tag=6, bits=8)).codec == "pcm_alaw"
    # a live recording's placeholder length reads as "to the end of the file"
    assert inspect(wav(tmp_path / "p.wav", declared=0xFFFFFFFF)).duration == pytest.approx(0.1)
    with pytest.raises(NotARecording, match="truncated"):
        inspect(wav(tmp_path / "t.wav", declared=10_000))
    with pytest.raises(NotARecording, match="unsupported WAV codec 0x0160"):
        inspect(wav(tmp_path / "w.wav", tag=0x160))
    (tmp_path / "h.wav").write_bytes(b"RIFF\x04\0\0\0WAVE")
    with pytest.raises(NotARecording):
        inspect(tmp_path / "h.wav")


def test_random_bytes_refused(tmp_path: Path) -> None:
    (tmp_path / "r.mp3").write_bytes(bytes(range(256)) * 64)
    with pytest.raises(NotARecording):
        inspect(tmp_path / "r.mp3")
