"""``b24tel dev-cert``: a local CA and a server certificate for 127.0.0.1/localhost.

Several SDKs (b24pysdk, pybitrix24, the JS B24Hook) only speak https
(docs/reference/clients.md, "Transport")."""

from __future__ import annotations

from pathlib import Path

import click
import trustme


def make_dev_cert(
    out: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="b24tel development CA")
    cert = ca.issue_cert(*names)
    paths = {"ca": out / "ca.pem", "cert": out / "server.pem", "key": out / "server.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    # the server certificate followed by the CA, so clients get the whole chain
    with paths["cert"].open("wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())
    cert.private_key_pem.write_to_path(str(paths["key"]))
    paths["key"].chmod(0o600)
    return paths


@click.command("dev-cert")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--name", "names", multiple=True, help="Extra host names or IPs.")
def dev_cert(out: str, names: tuple[str, ...]) -> None:
    """Make a local CA and a certificate for 127.0.0.1 and localhost."""
    paths = make_dev_cert(Path(out), ("127.0.0.1", "localhost", *names))
    click.echo(f"CA certificate:     {paths['ca']}")
    click.echo(f"server certificate: {paths['cert']}")
    click.echo(f"server key:         {paths['key']}")
    click.echo("\nServe over HTTPS:")
    click.echo(f"  b24tel serve --port 8443 --tls-cert {paths['cert']} --tls-key {paths['key']}")
    click.echo("\nTrust the CA in clients (Python requests/httpx/aiohttp, curl):")
    click.echo(f"  export SSL_CERT_FILE={paths['ca']} REQUESTS_CA_BUNDLE={paths['ca']}")
    click.echo(f"  curl --cacert {paths['ca']} https://127.0.0.1:8443/rest/...")
    click.echo("System-wide on Debian/Ubuntu:")
    click.echo(f"  sudo cp {paths['ca']} /usr/local/share/ca-certificates/b24tel-dev.crt")
    click.echo("  sudo update-ca-certificates")
