"""Stand-in servers on loopback, for trying proxshift and for its end-to-end tests."""
