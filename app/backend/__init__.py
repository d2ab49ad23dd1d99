"""Speech backends over the network: the stream interface, the ``/v1/stream``, moshi-server and
original-service clients, the stream runner and the checks. Imports only ``app.core``."""
