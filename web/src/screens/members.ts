/** Members (admins): each person's mailbox, its state and when it last synced. */
import { must } from "../api";
import type { App } from "../app";
import { badge, h, when } from "../ui";

const PROVIDERS: Record<string, string> = { gmail: "Gmail", microsoft: "Microsoft", smtp: "SMTP/IMAP" };

export async function membersScreen(app: App): Promise<HTMLElement> {
  const [{ members }, settings] = await Promise.all([must(app.api.GET("/settings/members")), must(app.api.GET("/settings"))]);
  const practice = settings.tenant.mailbox_policy === "tenant";
  const shared = settings.mailboxes.tenant;
  const policy = h(
    "p",
    { "data-testid": "policy" },
    practice
      ? `Everyone sends from the practice's mailbox${shared ? `: ${shared.address}` : " (none connected yet: the platform's address)"}.`
      : "Each practitioner connects their own mailbox.",
  );
  if (members.length === 0) {
    return h("div", {}, policy, h("p", {}, "Nobody has used the email features yet. Members appear once they have signed in."));
  }
  const table = h(
    "table",
    {},
    h("caption", {}, "Everyone who has signed in, with their mailbox"),
    h("thead", {}, h("tr", {}, ["Member", "Role", "Mailbox", "Provider", "State", "Last sync", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      members.map((m) =>
        h(
          "tr",
          { "data-uid": m.uid },
          h("td", {}, m.name || m.email, m.name ? h("div", { class: "sub" }, m.email) : null),
          h("td", {}, m.role === "admin" ? "Admin" : "Practitioner"),
          h("td", {}, m.mailbox?.address ?? (practice ? "The practice's mailbox" : "Platform sender")),
          h("td", {}, m.mailbox ? PROVIDERS[m.mailbox.provider] ?? m.mailbox.provider : "—"),
          h("td", {}, m.mailbox ? badge(m.mailbox.state) : "—"),
          h("td", {}, m.mailbox?.receive ? when(m.last_synced_at) : "Not receiving"),
          h("td", {}, when(m.last_seen_at)),
        ),
      ),
    ),
  );
  return h("div", {}, policy, table);
}
