"""The dead-letter store: every dead letter on the topics, kept in the core's `dead_letter` table."""

from hub.core.parts import Part

PART = Part(
    name="dead_letters",
    description="Keeps every dead letter from the dead-letter topics for `hub dlq` and the status page.",
    consumer="consumers.dead_letters.consumer:DeadLetterStore",
)
