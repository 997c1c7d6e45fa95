"""Reference implementations of the platform services (Lambda handlers and ASGI apps)."""
