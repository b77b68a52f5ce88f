"""The benchmark behind ``make bench`` (see __main__.py); pytest collects nothing here."""
