"""Why a recording cannot be stored (docs/reference/telephony.md, "attachRecord"). Each
message is the client's error text: the methods that take recordings send it as their
business error."""

from __future__ import annotations

NOT_BASE64 = "File content is not properly encoded. Base64 encoding is expected."
FILE_MISSING = "Error: required parameter file is not found"
# what the reference says of a file it does not take as audio; our reason follows
REFERENCE_REFUSAL = "Incorrect file type or maximum size of the file exceeded"


class IngestError(Exception):
    """Input that cannot become a recording."""


class Base64Error(IngestError):
    def __init__(self) -> None:
        super().__init__(NOT_BASE64)


class SizeLimitError(IngestError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the recording exceeds the limit of {limit} bytes")
        self.limit = limit


class NotARecording(Exception):
    """Bytes that are not a WAV or MP3 recording: the reference's message plus our
    reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{REFERENCE_REFUSAL} ({reason})")
        self.reason = reason


class FetchError(Exception):
    """A RECORD_URL download that failed."""


class StoreError(Exception):
    """The object could not be stored whole."""
