"""The Enphase IQ Gateway: ``parse`` (pure: one function per endpoint, the source rule) and ``client``
(HTTP: TLS trust, retries, token and cookie, digest). Kept import-free so that importing ``parse`` (as
``homepower.reading`` does) never loads requests."""
