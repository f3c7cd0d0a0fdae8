"""homepower: one trustworthy row per hour from an Enphase gateway, a weather forecast and a PV model."""
