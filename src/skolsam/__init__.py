"""skolsam: termly follow-up of Stockholm's school and social services cooperation programmes."""

__version__ = "0.1.0"
