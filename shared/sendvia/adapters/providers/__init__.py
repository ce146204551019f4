"""One adapter per mail provider, each implementing ports.MailboxProvider (and the platform's
relay, ports.Relay); the composition root registers them by `Provider`."""
