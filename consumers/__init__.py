"""Consumers: read events from Kafka and apply them to the shared database. One folder per consumer.

A new consumer is one module with a `Consumer` subclass and one line in `registry.py`.
"""
