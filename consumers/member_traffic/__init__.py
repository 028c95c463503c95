"""Member traffic: each member facility's events counted per hour, so the hub knows its usual traffic by
hour of the week and can tell when a member has gone silent."""
