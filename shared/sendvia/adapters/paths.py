"""Every Firestore path of sendvia, in one place. Tenant data lives under `tenants/{tenant_id}/`."""

from __future__ import annotations

TENANTS = "tenants"


def tenant(tenant_id: str) -> str:
    return f"{TENANTS}/{tenant_id}"


def members(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/members"


def member(tenant_id: str, uid: str) -> str:
    return f"{members(tenant_id)}/{uid}"


def mailboxes(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/mailboxes"


def mailbox(tenant_id: str, mailbox_id: str) -> str:
    return f"{mailboxes(tenant_id)}/{mailbox_id}"


def deliveries(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/deliveries"


def delivery(tenant_id: str, delivery_id: str) -> str:
    return f"{deliveries(tenant_id)}/{delivery_id}"


def notifications(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/notifications"


def notification(tenant_id: str, notification_id: str) -> str:
    return f"{notifications(tenant_id)}/{notification_id}"


# One-time OAuth states are looked up by the hash of the state, before the tenant is known.
OAUTH_STATES = "oauth_states"


def oauth_state(state_hash: str) -> str:
    return f"{OAUTH_STATES}/{state_hash}"


def recipients(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/recipients"


def recipient(tenant_id: str, address: str) -> str:
    """An address's status, keyed by its hash (addresses are not valid document ids)."""
    return f"{recipients(tenant_id)}/{address_hash(address)}"


def provider_event(tenant_id: str, provider: str, event_id: str) -> str:
    """The mark that an event was recorded: a duplicate finds it."""
    return f"{tenant(tenant_id)}/provider_events/{event_hash(provider, event_id)}"


# Events that name no delivery we know (sent before sendvia, or by another system on the same
# email-service account): kept, not errors.
UNMATCHED_EVENTS = "unmatched_provider_events"


def unmatched_event(provider: str, event_id: str) -> str:
    return f"{UNMATCHED_EVENTS}/{event_hash(provider, event_id)}"


# Suppression shards per tenant: 1,024, named by the first ten bits of the address's hash. Each
# suppressing event writes its address's shard, so a bounce storm spreads over all of them: 2,000
# events at the 220 a second the local stack takes leave each under one write a second (16
# shards took 6 to 12 a second each, 256 up to 1.7; bench/hot_documents.py). `send` reads only
# its recipients' shards, each at most once per SENDVIA_ROUTE_CACHE_SECONDS per instance.
SUPPRESSION_SHARDS = 1024


def suppression_shard_of(address_hash: str) -> str:
    return f"{int(address_hash[:3], 16) * SUPPRESSION_SHARDS // 4096:03x}"


def suppression_shard(tenant_id: str, shard: str) -> str:
    """The document listing the tenant's suppressed and opted-out addresses (by hash) of one
    shard (`suppression_shard_of` an address's hash), so `send` checks its recipients in a few
    reads."""
    return f"{tenant(tenant_id)}/suppressions/{shard}"


def contacts(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/contacts"


def contact(tenant_id: str, contact_id: str) -> str:
    return f"{contacts(tenant_id)}/{contact_id}"


def contact_addresses(tenant_id: str) -> str:
    """The tenant's index of addresses: which contact each belongs to (one at most)."""
    return f"{tenant(tenant_id)}/contact_addresses"


def contact_address(tenant_id: str, address: str) -> str:
    return f"{contact_addresses(tenant_id)}/{address_hash(address)}"


def correspondence(tenant_id: str) -> str:
    return f"{tenant(tenant_id)}/correspondence"


def sync_state(tenant_id: str, mailbox_id: str) -> str:
    """A receiving mailbox's cursors, lease and backfill progress (apart from the mailbox
    document, whose writes drop the instance's cached routes)."""
    return f"{tenant(tenant_id)}/sync_states/{mailbox_id}"


def address_hash(address: str) -> str:
    return _digest(address.lower())


def event_hash(provider: str, event_id: str) -> str:
    return _digest(f"{provider}/{event_id}")


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:40]
