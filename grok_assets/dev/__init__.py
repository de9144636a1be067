"""Running it on a laptop: a loopback S3 server, synthetic sample data, the demo
(``make run``), the local UI launcher (``make ui``) and local copies (``sync``)."""
