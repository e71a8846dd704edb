"""Stack settings: `model` (what components import), `parse` (validation), `load` (pulumi.Config)."""
