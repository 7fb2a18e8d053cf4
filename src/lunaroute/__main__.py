"""`python -m lunaroute` runs the CLI."""

from lunaroute.cli import main

if __name__ == "__main__":
    main()
