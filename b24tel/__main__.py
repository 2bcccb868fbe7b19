"""`python -m b24tel`, and the `b24tel` command (pyproject.toml's script)."""

from b24tel import startup


def main() -> None:
    startup.own_process()
    with startup.imports():
        from b24tel.cli.main import cli
    cli()


if __name__ == "__main__":
    main()
