"""Fixtures of the page tests: the browser (module-scoped; see tests/web/browser.py)."""

from tests.web.browser import browser

__all__ = ["browser"]
