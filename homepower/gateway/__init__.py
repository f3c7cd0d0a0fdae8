"""The Enphase IQ Gateway: ``parse`` (pure: one function per endpoint, the source rule) and ``client``
(HTTP over urllib3: TLS trust, retries, token and cookie, digest). Kept import-free so that importing
``parse`` (as ``homepower.reading`` does, for the spool and --replay) never loads the HTTP client."""
