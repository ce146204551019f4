"""One module per capability; services orchestrate ports and know nothing of HTTP."""
