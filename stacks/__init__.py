"""Per-environment stack files (`Pulumi.<stack>.yaml`) and the pydantic model validating them."""
