"""Kafka plumbing outside Faust: the embedded Tansu broker and topic administration."""
