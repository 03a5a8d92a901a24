"""Toga screens: thin views over `mrbill_mobile.logic`; no HTTP in here."""
