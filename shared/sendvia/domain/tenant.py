"""A tenant's settings: the admin's switches, with defaults for a tenant nobody has set up yet.

Plain data, cheap to import: reading settings must not pay for the validation library, which only
a change (`sendvia.domain.tenant_patch`) needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MailboxPolicy(StrEnum):
    TENANT = "tenant"  # one mailbox for the whole tenant (WriteUpp, sBizzl)
    PER_USER = "per_user"  # each user connects their own (Senta)


class Visibility(StrEnum):
    """Who sees a contact's correspondence (Senta: "emails between each client and everyone in
    the practice ... ideal for holidays")."""

    PRACTICE = "practice"  # everyone in the tenant, whichever mailbox synced it
    OWN_MAILBOX = "own_mailbox"  # members: only their own mailbox's; admins: all


class OnBroken(StrEnum):
    FAIL = "fail"  # the send fails with a clear error until someone re-authorizes
    DEFAULT = "default"  # fall back to the platform's sender


@dataclass(frozen=True)
class Integrations:
    gmail: bool = False
    smtp_imap: bool = False
    microsoft: bool = False


@dataclass(frozen=True)
class Tenant:
    """The settings of a tenant (`tenants/{id}`), as the API shows them."""

    id: str
    product_name: str
    integrations: Integrations = field(default_factory=Integrations)
    mailbox_policy: MailboxPolicy = MailboxPolicy.TENANT
    on_broken: OnBroken = OnBroken.FAIL
    members_may_send: bool = True
    return_origins: tuple[str, ...] = ()
    correspondence: Visibility = Visibility.PRACTICE
    backfill_days: int = 0  # how far back a receiving mailbox's backfill goes; 0: all of it

    @classmethod
    def defaults(cls, tenant_id: str, product_name: str) -> Tenant:
        """What a tenant with no document gets: everything off, the platform sender in use."""
        return cls(id=tenant_id, product_name=product_name)

    @classmethod
    def from_stored(cls, tenant_id: str, stored: Mapping[str, Any], product_name: str) -> Tenant:
        """From the stored document; a field that is missing takes its default."""
        switches = stored.get("integrations") or {}
        return cls(
            id=tenant_id,
            product_name=str(stored.get("product_name") or product_name),
            integrations=Integrations(
                **{k: bool(switches.get(k, False)) for k in ("gmail", "smtp_imap", "microsoft")}
            ),
            mailbox_policy=MailboxPolicy(stored.get("mailbox_policy", MailboxPolicy.TENANT)),
            on_broken=OnBroken(stored.get("on_broken", OnBroken.FAIL)),
            members_may_send=bool(stored.get("members_may_send", True)),
            return_origins=tuple(stored.get("return_origins") or ()),
            correspondence=Visibility(stored.get("correspondence", Visibility.PRACTICE)),
            backfill_days=int(stored.get("backfill_days") or 0),
        )

    def replace(self, **changes: Any) -> Tenant:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The API's Tenant object (and the stored document, with `id`)."""
        return {
            "id": self.id,
            "product_name": self.product_name,
            "integrations": dataclasses.asdict(self.integrations),
            "mailbox_policy": self.mailbox_policy.value,
            "on_broken": self.on_broken.value,
            "members_may_send": self.members_may_send,
            "return_origins": list(self.return_origins),
            "correspondence": self.correspondence.value,
            "backfill_days": self.backfill_days,
        }
