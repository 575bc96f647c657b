"""Subcommands of the skolsam command line, one module each (see skolsam.cli.COMMANDS)."""
