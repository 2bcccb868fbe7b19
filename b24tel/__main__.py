from b24tel.cli.main import cli

cli()
