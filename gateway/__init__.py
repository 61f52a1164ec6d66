"""Dalil gateway. The app factory and the rest of the assembly are in gateway.app; they are named here too, so
that ``from gateway import create_app`` works as in Flask's tutorial."""
from gateway.app import create_app, hooks, initialize, schemas
from gateway.context import Dalil

__all__ = ["create_app", "Dalil", "initialize", "schemas", "hooks"]
