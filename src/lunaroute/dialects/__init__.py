"""Dialects: the OpenAI and Anthropic wire formats, their errors and streams."""
