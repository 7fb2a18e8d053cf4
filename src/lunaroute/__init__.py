"""LunaRoute: an LLM gateway serving the OpenAI and Anthropic APIs on one port."""

__all__ = ["__version__"]

__version__ = "0.1.0"
