"""The model registry: profiles, health, change history and the watch stream."""
