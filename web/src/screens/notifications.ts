/** Notifications: a broken mailbox, a bounced email; each marked read once seen. */
import { must, type Notification } from "../api";
import type { App } from "../app";
import { busy, button, h, when } from "../ui";

export async function notificationsScreen(app: App): Promise<HTMLElement> {
  const { notifications } = await must(app.api.GET("/activity/notifications"));
  if (notifications.length === 0) return h("p", {}, "No notifications.");
  return h("ul", { class: "notifications" }, notifications.map((n) => item(app, n)));
}

function item(app: App, n: Notification): HTMLElement {
  const li = h(
    "li",
    { class: n.read ? "read" : "unread", "data-kind": n.kind ?? "" },
    h("h2", {}, n.title ?? n.kind ?? "Notification"),
    n.message ? h("p", {}, n.message) : null,
    n.hint ? h("p", { class: "hint" }, n.hint) : null,
    h("p", { class: "sub" }, `${when(n.created_at)}${n.resolved_at ? ` · resolved ${when(n.resolved_at)}` : ""}`),
    n.mailbox ? h("p", {}, h("a", { href: "#/mailbox" }, "Open the mailbox")) : null,
  );
  if (n.delivery_id) li.append(openContact(app, n.delivery_id));
  if (!n.read) {
    const read = button("Mark as read");
    read.setAttribute("aria-label", `Mark as read: ${n.title ?? n.kind ?? "notification"}`);
    const outlet = h("div", {});
    busy(read, outlet, async () => {
      await must(app.api.POST("/activity/notifications/{notification_id}:read", { params: { path: { notification_id: n.id } } }));
      li.className = "read";
      read.remove();
      await app.refreshNav();
    });
    li.append(read, outlet);
  }
  return li;
}

/** A notification about one email: its contact's page, where its address can be reactivated. */
function openContact(app: App, deliveryId: string): HTMLElement {
  const go = button("Open the contact");
  const outlet = h("div", {});
  busy(go, outlet, async () => {
    const delivery = await must(app.api.GET("/activity/deliveries/{delivery_id}", { params: { path: { delivery_id: deliveryId } } }));
    if (!delivery.contact_id) throw new Error(`That email (to ${delivery.to.join(", ")}) was not sent to a contact.`);
    location.hash = `#/contacts/${encodeURIComponent(delivery.contact_id)}`;
  });
  return h("div", {}, go, outlet);
}
