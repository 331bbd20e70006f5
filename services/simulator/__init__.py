"""Simulated LLM server: OpenAI- and Anthropic-compatible HTTP with configurable behaviour."""
