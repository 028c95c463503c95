"""A simulated county: one county hospital, township health centres and village clinics, each with
its own HIS database in one of two vendor schemas, generating realistic records at a set rate."""
