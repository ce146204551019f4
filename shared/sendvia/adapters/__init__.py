"""Adapters: the project's only contact with SDKs and servers, behind small ports."""
