"""Chapter 3: publisher and subscriber."""
