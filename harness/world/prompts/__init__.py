"""The embedded world's prompt templates (data): the one-turn ``compact`` proposal set (`harness.world.plugin`)."""
