"""Critical values (危急值): a lab result past its critical limits, or a reader's critical finding, becomes a
notice the ordering member must acknowledge in time; unacknowledged notices escalate."""
