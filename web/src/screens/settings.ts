/** Email settings (admins): which ways to connect, whose mailbox, what happens when it breaks,
 * and where a sign-in may return to. */
import { must, type Tenant } from "../api";
import type { App } from "../app";
import { busy, button, checkbox, field, h, notice, radios, section } from "../ui";

export async function settingsScreen(app: App): Promise<HTMLElement> {
  const settings = await must(app.api.GET("/settings"));
  return settingsForm(app, settings.tenant);
}

function settingsForm(app: App, tenant: Tenant): HTMLElement {
  const here = location.origin;
  const origins = [...tenant.return_origins];
  const originList = h("ul", { class: "origins" });
  const drawOrigins = (): void => {
    originList.replaceChildren(
      ...origins.map((origin, i) =>
        h("li", {}, h("code", {}, origin), " ", h("button", { type: "button", class: "link", "aria-label": `Remove ${origin}`, onclick: () => { origins.splice(i, 1); drawOrigins(); } }, "Remove")),
      ),
    );
    if (origins.length === 0) originList.append(h("li", {}, "None yet: Sign in with Google or Microsoft cannot return to this app."));
  };
  drawOrigins();
  const newOrigin = h("input", { type: "url", name: "return_origin", placeholder: "https://app.example.com" });
  const addOrigin = h("button", { type: "button", onclick: () => { const value = newOrigin.value.trim(); if (value && !origins.includes(value)) origins.push(value); newOrigin.value = ""; drawOrigins(); } }, "Add");
  const addHere = origins.includes(here)
    ? null
    : h("button", { type: "button", onclick: (event: Event) => { if (!origins.includes(here)) origins.push(here); (event.target as HTMLElement).remove(); drawOrigins(); } }, `Add this app (${here})`);

  const form = h(
    "form",
    { "aria-label": "Email settings" },
    section(
      "Ways to connect a mailbox",
      checkbox("Gmail (Sign in with Google)", "gmail", tenant.integrations.gmail),
      checkbox("Microsoft 365 / Outlook (Sign in with Microsoft)", "microsoft", tenant.integrations.microsoft),
      checkbox("Any provider by SMTP/IMAP (app password)", "smtp_imap", tenant.integrations.smtp_imap),
    ),
    section(
      "Whose mailbox sends",
      radios("Mailbox policy", "mailbox_policy", [["tenant", "One mailbox for the whole practice"], ["per_user", "Each practitioner connects their own"]], tenant.mailbox_policy),
      radios("When a mailbox cannot send", "on_broken", [["fail", "Stop and tell us (emails fail)"], ["default", "Send from the platform's address instead"]], tenant.on_broken),
      checkbox("Practitioners may send email", "members_may_send", tenant.members_may_send),
    ),
    section(
      "Where Sign in may return to",
      h("p", {}, "After Sign in with Google or Microsoft, the browser comes back to one of these origins."),
      originList,
      h("div", { class: "row" }, field("Another origin", newOrigin), addOrigin, addHere),
    ),
  );
  const outlet = h("div", { "aria-live": "polite" });
  const save = button("Save settings", "primary");
  busy(save, outlet, async () => {
    const value = (name: string): string => (form.querySelector(`input[name=${name}]:checked`) as HTMLInputElement).value;
    const on = (name: string): boolean => (form.querySelector(`input[name=${name}]`) as HTMLInputElement).checked;
    const saved = await must(
      app.api.PATCH("/settings", {
        body: {
          integrations: { gmail: on("gmail"), microsoft: on("microsoft"), smtp_imap: on("smtp_imap") },
          mailbox_policy: value("mailbox_policy") as Tenant["mailbox_policy"],
          on_broken: value("on_broken") as Tenant["on_broken"],
          members_may_send: on("members_may_send"),
          return_origins: origins,
        },
      }),
    );
    outlet.replaceChildren(notice(`Saved. Gmail ${saved.integrations.gmail ? "on" : "off"}, Microsoft ${saved.integrations.microsoft ? "on" : "off"}, SMTP/IMAP ${saved.integrations.smtp_imap ? "on" : "off"}.`));
  });
  form.append(h("div", { class: "actions" }, save), outlet);
  return form;
}
