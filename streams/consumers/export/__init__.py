"""The analytics sink: corridor.timelines, corridor.alerts and corridor.eta as partitioned Parquet files,
exactly one set of rows per Kafka record across restarts (see files.py)."""
