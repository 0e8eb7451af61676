"""Chapter 5: sensor to dashboard."""
