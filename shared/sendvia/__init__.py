"""sendvia: a tenant's email through their own mailbox, with the platform's sender as fallback."""
