"""Chapter 1: topics and the wire format."""
