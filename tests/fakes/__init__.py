"""Fake services on loopback for the poller's tests and the benchmark: an HTTPS IQ Gateway with a
self-signed certificate made at run time (openssl CLI), and Enlighten/Entrez. Importable
(``tests.fakes.gateway``) and startable as processes (``python -m tests.fakes.gateway --help``)."""
