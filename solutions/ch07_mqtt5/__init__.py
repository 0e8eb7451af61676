"""Chapter 7: MQTT 5 - properties, request/response, shared subscriptions."""
