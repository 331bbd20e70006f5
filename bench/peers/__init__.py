"""Peer gateways measured next to Switchyard: LiteLLM (proxy and Router library) and
the Portkey AI gateway, each with the same two simulated models and a fallback from
the first to the second."""
