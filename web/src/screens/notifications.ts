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
  if (!n.read) {
    const read = button("Mark as read");
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
