"""A small DNS server for the local stack: MX records of test zones, so `discover` makes a real
DNS lookup (dnspython, over UDP) and nothing reaches the internet. Names outside the zones answer
NXDOMAIN, as an unknown domain would.

    python -m emulators.dns_server --port 8053
"""

from __future__ import annotations

import argparse
import logging
import socketserver
from typing import Any

# Domain → its MX hosts. Google's and Microsoft's receiving hosts as their customers' domains
# publish them; a self-hosted one; and one with no MX at all.
ZONES: dict[str, list[str]] = {
    "riverside.example": ["aspmx.l.google.com", "alt1.aspmx.l.google.com"],
    "contoso.example": ["contoso-example.mail.protection.outlook.com"],
    "fabrikam.example": ["fabrikam-example.mail.protection.outlook.com"],
    "smallbiz.example": ["mx1.smallbiz.example"],
    "clinic.test": ["mail.clinic.test"],
    "nomx.example": [],
}

log = logging.getLogger("dns_server")


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset

        data, sock = self.request
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        response: Any = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            name = question.name.to_text(omit_final_dot=True).lower()
            if name not in ZONES:
                response.set_rcode(dns.rcode.NXDOMAIN)
                continue
            if question.rdtype == dns.rdatatype.MX and ZONES[name]:
                records = [f"{10 * (i + 1)} {host}." for i, host in enumerate(ZONES[name])]
                response.answer.append(
                    dns.rrset.from_text(question.name, 300, dns.rdataclass.IN, "MX", *records)
                )
        sock.sendto(response.to_wire(), self.client_address)


def main() -> None:
    parser = argparse.ArgumentParser(description="the local stack's DNS server (test zones)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8053)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with socketserver.ThreadingUDPServer((args.host, args.port), Handler) as server:
        log.info("DNS on %s:%d (udp), zones: %s", args.host, args.port, ", ".join(ZONES))
        server.serve_forever()


if __name__ == "__main__":
    main()
