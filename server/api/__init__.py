"""The HTTP API: routes parse, authenticate and call a service; errors map in one place."""
