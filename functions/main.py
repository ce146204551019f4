"""Cloud Functions entry points of sendvia, one per deployed function.

Each entry point is a few lines: authenticate, parse, call one service, render. Clients are built
lazily by the services, never at import, so every function's cold start pays only for what it uses.
"""
