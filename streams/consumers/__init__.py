"""Consumers of corridor's output topics, each a plain aiokafka consumer group of its own (not Faust):
`notify` delivers alerts to subscribers, `export` writes Parquet for analytics, `report` queries it."""
