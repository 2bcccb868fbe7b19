"""b24tel: a self-hosted server that speaks Bitrix24's REST protocol for external telephony."""

__version__ = "0.1.0"
