"""The shared health record: every member's resources per community patient."""
