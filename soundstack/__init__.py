"""SoundStack tooling: the offline preview under Pulumi mocks and the `soundstack` CLI."""
