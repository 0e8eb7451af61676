"""Chapter 6: security and the cloud."""
