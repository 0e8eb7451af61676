"""Chapter 1: a first message, topics and the wire format."""
