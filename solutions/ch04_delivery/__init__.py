"""Chapter 4: delivery guarantees: QoS, retained messages, last will."""
