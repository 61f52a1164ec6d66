"""Config sections owned by the flows package."""
SCHEMA: dict = {}
