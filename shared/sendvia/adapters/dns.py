"""ports.MailExchangers with dnspython: MX lookups, against the system's resolver or the one
SENDVIA_DNS_RESOLVER names (the local stack's DNS server with its test zones)."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("sendvia.dns")

TIMEOUT_S = 2.0  # per server
LIFETIME_S = 3.0  # a whole lookup: discovery answers quickly, or says "smtp"


class DnsMailExchangers:
    def __init__(self, server: str | None = None) -> None:
        self._server = server  # "host:port", or None for the system's resolvers
        self._resolver: Any = None
        self._lock = threading.Lock()

    def _resolve(self) -> Any:
        with self._lock:
            if self._resolver is None:
                import dns.resolver

                resolver = dns.resolver.Resolver(configure=self._server is None)
                if self._server is not None:
                    host, _, port = self._server.rpartition(":")
                    resolver.nameservers = [host]
                    resolver.port = int(port)
                resolver.timeout, resolver.lifetime = TIMEOUT_S, LIFETIME_S
                self._resolver = resolver
            return self._resolver

    def lookup(self, domain: str) -> list[str] | None:
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolve().resolve(domain, "MX")
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            log.info("no MX for %s: %s", domain, type(exc).__name__)
            return None
        records = sorted(answer, key=lambda r: r.preference)
        return [r.exchange.to_text(omit_final_dot=True) for r in records]
