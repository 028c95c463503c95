"""The core: events, topics, serialization, Kafka I/O, outbox, pipeline, consuming, database, settings,
metrics, errors and the HTTP toolkit. It imports no connector, consumer, application or tool."""
