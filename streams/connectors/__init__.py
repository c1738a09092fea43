"""Connectors: how carrier feeds reach the raw topics without a Kafka client of their own.

- `gateway`: an HTTP receiver (DCSA 2.2 signed callbacks, DCSA 3.0 pushes, any format by POST);
- `poller`: DCSA Track & Trace `GET /events` clients, one per carrier, checkpointed in a compacted topic;
- `dropfolder`: a watched directory for EDI and manifest files from SFTP or AS2 gateways.

Each writes what it receives, unchanged, to the format's raw topic (`corridor.raw.<format>`), where the worker's
ingest agent parses it; what cannot be published goes to the dead-letter topic with the reason and the bytes."""
