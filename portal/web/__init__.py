"""Web helpers shared by the blueprints."""
