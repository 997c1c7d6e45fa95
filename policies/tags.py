"""The cost tags every taggable resource carries: set by `components.base`, checked by the pack."""

REQUIRED_TAGS = ("project", "stack", "environment", "component", "owner", "cost-centre")
