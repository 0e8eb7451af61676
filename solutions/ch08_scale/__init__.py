"""Chapter 8: more than one broker (bridges) and a device-sized client."""
