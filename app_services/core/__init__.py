"""Shared service framework: events, errors, HTTP routing, settings, logging and stores."""
