class BadCheckpoint(Exception):
    """The checkpoint cannot be accepted. The message tells the provider what to fix."""
