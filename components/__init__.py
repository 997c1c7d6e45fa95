"""Reusable SoundStack Pulumi components, one module per capability (see components/README.md)."""
