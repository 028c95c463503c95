"""What every HTTP route uses, wherever it lives: authentication, errors as OperationOutcome, request
bodies, and the audit and masking of answers that carry patient data."""
