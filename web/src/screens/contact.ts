/** A contact's page, as a host product shows a patient: their addresses with their email status,
 * a manual email (with the failure on screen), the delivery log, and the correspondence. */
import { ApiError, must, type Delivery } from "../api";
import type { App } from "../app";
import { badge, busy, button, errorBox, field, h, notice, problem, section, when } from "../ui";

/** The contacts this person opened lately, kept in this browser for them alone (per practice and
 * user; only ids, which the host product shows anyway). */
const recentKey = (app: App): string => `sendvia.recent-contacts.${app.person.tenant}.${app.person.uid}`;

function recent(app: App): string[] {
  try {
    return JSON.parse(localStorage.getItem(recentKey(app)) ?? "[]") as string[];
  } catch {
    return [];
  }
}

function remember(app: App, id: string): void {
  localStorage.setItem(recentKey(app), JSON.stringify([id, ...recent(app).filter((r) => r !== id)].slice(0, 10)));
}

const open = (id: string): void => {
  location.hash = `#/contacts/${encodeURIComponent(id)}`;
};

/** Contacts live in the host product; here a person opens one by its id, or adds one. */
export async function contactsScreen(app: App): Promise<HTMLElement> {
  const id = h("input", { name: "contact_id", required: true });
  const go = h("button", { type: "submit", class: "primary" }, "Open");
  const opener = h(
    "form",
    { "aria-label": "Open a contact", onsubmit: (e: Event) => { e.preventDefault(); if (id.value.trim()) open(id.value.trim()); } },
    field("Contact id (the patient's id in your product)", id),
    go,
  );
  const list = recent(app);
  return h(
    "div",
    {},
    section("Open a contact", opener),
    list.length ? section("Recently opened", h("ul", {}, list.map((r) => h("li", {}, h("a", { href: `#/contacts/${encodeURIComponent(r)}` }, r))))) : null,
    section("Add a contact", contactForm(app, null)),
  );
}

function contactForm(app: App, existing: { id: string; name: string; addresses: string[] } | null): HTMLElement {
  const id = h("input", { name: "id", value: existing?.id ?? "", readonly: existing !== null, required: true });
  const name = h("input", { name: "name", value: existing?.name ?? "", autocomplete: "off" });
  const addresses = h("input", { name: "addresses", value: existing?.addresses.join(", ") ?? "", autocomplete: "off" });
  const save = button(existing ? "Save contact" : "Add contact", "primary");
  const outlet = h("div", {});
  busy(save, outlet, async () => {
    await must(
      app.api.PUT("/activity/contacts/{contact_id}", {
        params: { path: { contact_id: id.value.trim() } },
        body: { name: name.value.trim(), addresses: addresses.value.split(",").map((a) => a.trim()).filter(Boolean) },
      }),
    );
    remember(app, id.value.trim());
    if (existing) location.reload();
    else open(id.value.trim());
  });
  return h("form", { "aria-label": existing ? "Edit contact" : "Add a contact" }, existing ? null : field("Contact id", id), field("Name", name), field("Email addresses", addresses, "Separate several with commas."), save, outlet);
}

export async function contactScreen(app: App, id: string): Promise<HTMLElement> {
  let contact;
  try {
    contact = await must(app.api.GET("/activity/contacts/{contact_id}", { params: { path: { contact_id: id } } }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return h("div", {}, problem(`There is no contact “${id}” yet.`, "Add it with its email addresses:"), section("Add this contact", contactForm(app, { id, name: "", addresses: [] })));
    }
    throw error;
  }
  remember(app, id);
  const addresses = [...contact.addresses, ...contact.learned_addresses.filter((a) => !contact.addresses.includes(a))];
  const log = h("div", {});
  const drawLog = async (): Promise<void> => {
    const page = await must(app.api.GET("/activity/deliveries", { params: { query: { contact_id: id, page_size: "20" } } }));
    log.replaceChildren(deliveryTable(page.deliveries));
  };
  const statuses = h("div", {});
  const drawStatuses = async (): Promise<void> => {
    statuses.replaceChildren(...(await Promise.all(addresses.map((a) => recipientRow(app, a, drawStatuses)))));
  };
  const redraw = async (): Promise<void> => {
    try {
      await Promise.all([drawLog(), drawStatuses()]);
    } catch {
      // the page keeps what it showed; the next visit reads again
    }
  };
  await Promise.all([drawLog(), drawStatuses()]);
  return h(
    "div",
    {},
    h("p", { class: "contact-name" }, h("strong", {}, contact.name || id), h("span", { class: "sub" }, ` · contact ${id}`)),
    section("Email addresses", addresses.length ? statuses : h("p", {}, "No address yet."), h("details", {}, h("summary", {}, "Edit contact"), contactForm(app, contact))),
    addresses.length ? section("Send an email", sendForm(app, id, addresses, redraw)) : null,
    section("Delivery log", log),
    section("Correspondence", await correspondence(app, id)),
  );
}

async function recipientRow(app: App, address: string, redraw: () => Promise<void>): Promise<HTMLElement> {
  const row = h("div", { class: "recipient", "data-address": address });
  let status;
  try {
    status = await must(app.api.GET("/activity/recipients/{address}", { params: { path: { address } } }));
  } catch (error) {
    row.append(h("span", {}, address), errorBox(error));
    return row;
  }
  row.append(h("span", { class: "address" }, address), " ", badge(status.status));
  if (status.status !== "active") {
    row.append(h("p", { class: "sub" }, `${status.status_reason || "Suppressed"} (since ${when(status.status_since)})`));
    if (app.person.role === "admin") {
      const reason = h("input", { name: "reason", autocomplete: "off" });
      const reactivate = button("Reactivate");
      const outlet = h("div", {});
      busy(reactivate, outlet, async () => {
        await must(app.api.POST("/activity/recipients/{address}:reactivate", { params: { path: { address } }, body: { reason: reason.value.trim() || "Reactivated by the practice admin" } }));
        await redraw();
      });
      row.append(h("div", { class: "row" }, field(`Why it is safe to email ${address} again`, reason), reactivate), outlet);
    }
  }
  if (status.opted_out.length) {
    row.append(h("p", { class: "sub" }, `Opted out of: ${status.opted_out.join(", ").replaceAll("_", " ")}`));
    if (app.person.role === "admin" && status.status === "active") {
      const outlet = h("div", {});
      const buttons = status.opted_out.map((category) => {
        const optIn = button(`Opt back in to ${category.replaceAll("_", " ")}`);
        busy(optIn, outlet, async () => {
          await must(app.api.POST("/activity/recipients/{address}:opt_in", { params: { path: { address } }, body: { category } }));
          await redraw();
        });
        return optIn;
      });
      row.append(h("div", { class: "row" }, buttons), outlet);
    }
  }
  return row;
}

function sendForm(app: App, contactId: string, addresses: string[], after: () => Promise<void>): HTMLElement {
  // One key per email written: pressing Send again after "sendvia did not answer" cannot send twice.
  let key = crypto.randomUUID();
  const to = h("select", { name: "to" }, addresses.map((a) => h("option", { value: a }, a)));
  const subject = h("input", { name: "subject", autocomplete: "off" });
  const text = h("textarea", { name: "text", rows: "5" });
  const send = button("Send", "primary");
  const outlet = h("div", { "aria-live": "polite" });
  const writing = (): void => {
    key = crypto.randomUUID(); // another email
  };
  [to, subject, text].forEach((e) => e.addEventListener("change", writing));
  busy(send, outlet, async () => {
    try {
      const sent = await must(
        app.api.POST("/send", {
          params: { header: { "Idempotency-Key": key } },
          body: { to: [to.value], subject: subject.value, text: text.value, contact_id: contactId, mode: "now" },
        }),
      );
      const state = sent.delivery.state;
      const done = state === "queued" || state === "scheduled" ? `Queued for ${to.value}: it goes shortly.` : `Sent to ${to.value}.`;
      outlet.replaceChildren(notice(state === "sent_unconfirmed" ? `${done} The provider did not confirm it; it will not be sent twice.` : done));
      key = crypto.randomUUID();
    } catch (error) {
      // Only an unanswered request keeps its key (pressing Send again must not send twice);
      // an answered one is settled, and the next press is a new email.
      if (!(error instanceof ApiError && error.status === 0)) key = crypto.randomUUID();
      throw error;
    } finally {
      await after(); // a failed send belongs in the log and may have changed the address's status
    }
  });
  return h("form", { "aria-label": "Send an email" }, field("To", to), field("Subject", subject), field("Message", text), send, outlet);
}

function deliveryTable(deliveries: Delivery[]): HTMLElement {
  if (deliveries.length === 0) return h("p", {}, "Nothing sent to this contact yet.");
  return h(
    "table",
    { "data-testid": "delivery-log" },
    h("caption", {}, "Emails to this contact, newest first"),
    h("thead", {}, h("tr", {}, ["When", "Subject", "To", "State", "Details"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      deliveries.map((d) =>
        h(
          "tr",
          { "data-delivery": d.id },
          h("td", {}, when(d.sent_at ?? d.send_at ?? null)),
          h("td", {}, d.subject),
          h("td", {}, d.to.join(", ")),
          h("td", {}, badge(d.state)),
          h("td", {}, d.error?.message ? h("span", {}, d.error.message, d.error.hint ? h("span", { class: "sub" }, ` ${d.error.hint}`) : null) : d.delivery_note ?? ""),
        ),
      ),
    ),
  );
}

async function correspondence(app: App, id: string): Promise<HTMLElement> {
  const page = await must(app.api.GET("/activity/contacts/{contact_id}/correspondence", { params: { path: { contact_id: id } } }));
  if (page.messages.length === 0) return h("p", {}, "No mail exchanged yet (mailboxes with receiving on show replies here).");
  return h(
    "ul",
    { class: "messages" },
    page.messages.map((m) =>
      h(
        "li",
        { class: m.direction },
        h("p", {}, h("strong", {}, m.direction === "in" ? "Received" : "Sent"), ` ${when(m.date)} · ${m.subject ?? ""}`),
        h("p", { class: "sub" }, m.text ? m.text.slice(0, 300) : ""),
      ),
    ),
  );
}
