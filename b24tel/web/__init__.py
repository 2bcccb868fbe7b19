"""The web interface: sign-in, the call journal and call pages, the live call card,
CRM pages, the integrator's pages and the dashboard (docs/ui.md)."""
