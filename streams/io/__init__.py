"""Kafka clients outside the worker: publishing plans, events and ticks, and reading the outputs."""
