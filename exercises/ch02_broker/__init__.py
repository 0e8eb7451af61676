"""Chapter 2: running and checking the broker."""
