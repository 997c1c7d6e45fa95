"""CrossGuard policy pack: policies in importable modules, the pack built in __main__.py."""
