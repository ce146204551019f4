"""Which way to connect an address: "Sign in with Google", "Sign in with Microsoft", or SMTP
with a preset for a well-known provider, from the domain's MX records (pure rules).

Well-known consumer domains answer without a lookup. A domain whose mail Google or Microsoft
receive (MX at Google; at `*.mail.protection.outlook.com`) is theirs, whatever its name. Anything
else, or a lookup that failed, is SMTP without a preset: never an error."""

from __future__ import annotations

from dataclasses import dataclass

GOOGLE_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
MICROSOFT_DOMAINS = frozenset({"outlook.com", "hotmail.com", "live.com", "msn.com"})
_GOOGLE_MX = ("google.com", "googlemail.com")
_MICROSOFT_MX = ("mail.protection.outlook.com",)


@dataclass(frozen=True)
class Discovery:
    provider: str  # "google" | "microsoft" | "smtp": the `provider` oauth_start takes, or SMTP
    preset: str | None  # SMTP/IMAP settings to prefill: "gmail" | "office365" | None
    looked_up: bool = False  # whether DNS was asked

    def to_json(self) -> dict[str, str | None]:
        return {"provider": self.provider, "preset": self.preset}


def domain_of(address: str) -> str | None:
    """The domain of an address, lowercased, or None when it is not one."""
    local, at, domain = address.strip().rpartition("@")
    domain = domain.strip().lower().rstrip(".")
    if not at or not local or "." not in domain or any(c.isspace() for c in domain):
        return None
    return domain


def without_lookup(domain: str) -> Discovery | None:
    if domain in GOOGLE_DOMAINS:
        return Discovery("google", "gmail")
    if domain in MICROSOFT_DOMAINS:
        return Discovery("microsoft", "office365")
    return None


def from_mx(hosts: list[str] | None) -> Discovery:
    """What the domain's mail exchangers say; None (the lookup failed) is plain SMTP."""
    names = [h.strip().lower().rstrip(".") for h in hosts or []]
    if any(_under(h, _MICROSOFT_MX) for h in names):
        return Discovery("microsoft", "office365", looked_up=True)
    if any(_under(h, _GOOGLE_MX) for h in names):
        return Discovery("google", "gmail", looked_up=True)
    return Discovery("smtp", None, looked_up=True)


def _under(host: str, suffixes: tuple[str, ...]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)
