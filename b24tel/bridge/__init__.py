"""Bridge mode: b24tel between a connector and the Bitrix24 portal a company already has
(docs/bridge.md)."""
