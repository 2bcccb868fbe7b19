"""Recordings as files of the portal's drive: ``disk.file.get`` and the download endpoint
(``/rest/download.json``, signed links and ``Range``). The store itself is
``b24tel.recordings``."""
