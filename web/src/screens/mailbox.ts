/** The mailbox screen: how email leaves (the route), the connected mailbox with its state and
 * actions, and the ways to connect one: Sign in with Google or Microsoft, or SMTP/IMAP. */
import { ApiError, must, type Mailbox, type Schemas, type Settings, type TestResult } from "../api";
import type { App } from "../app";
import { badge, busy, button, checkbox, field, h, notice, problem, section, when } from "../ui";

type MailboxId = "tenant" | "me";

const PROVIDERS: Record<string, string> = { gmail: "Gmail", microsoft: "Microsoft 365", smtp: "SMTP/IMAP" };

const STEPS: Record<string, string> = {
  resolve: "Find the server",
  connect: "Connect",
  tls: "Secure the connection",
  auth: "Sign in",
  refresh: "Renew access",
  send: "Send the test email",
  imap_login: "Sign in to IMAP",
  sent_folder: "Find the Sent folder",
};

const CAUSES: Record<string, string> = {
  wrong_password: "The server refused the user name or password.",
  app_password_required: "This account needs an app password, not its usual password.",
  basic_auth_disabled: "The provider has turned off password sign-in for this account.",
  tls_mismatch: "The security setting does not match the port.",
  certificate_untrusted: "The server's certificate is not trusted.",
  unreachable: "The server could not be reached.",
  timeout: "The server did not answer in time.",
  token_revoked: "Access to the mailbox was withdrawn.",
  reauthorize_required: "The mailbox must be signed in again.",
  folder_missing: "The Sent folder was not found.",
  host_not_allowed: "That server address is not allowed.",
};

const RESULTS: Record<string, string> = {
  connected: "Your mailbox is connected.",
  denied: "Sign-in was cancelled; nothing changed.",
  admin_consent_required: "Your organisation lets only an administrator approve this app. Ask your IT admin to grant consent, then sign in again.",
};

const PRESETS: Record<string, { smtp: [string, number, string]; imap: [string, number, string] }> = {
  gmail: { smtp: ["smtp.gmail.com", 587, "starttls"], imap: ["imap.gmail.com", 993, "tls"] },
  office365: { smtp: ["smtp.office365.com", 587, "starttls"], imap: ["outlook.office365.com", 993, "tls"] },
};

export async function mailboxScreen(app: App): Promise<HTMLElement> {
  const container = h("div", {});
  const returned = signInResult();
  const draw = async (message?: HTMLElement | null): Promise<void> => {
    const settings = await must(app.api.GET("/settings"));
    container.replaceChildren(...render(app, settings, draw, message ?? null));
    await app.refreshNav(); // an action here may have raised or resolved a notification
  };
  await draw(returned);
  return container;
}

/** After Sign in with Google or Microsoft, the browser returns with `sendvia_result`. */
function signInResult(): HTMLElement | null {
  const query = new URLSearchParams(location.search);
  const result = query.get("sendvia_result");
  if (!result) return null;
  history.replaceState(null, "", location.pathname + location.hash);
  if (result in RESULTS && result !== "error") {
    return result === "connected" ? notice(RESULTS[result]) : problem(RESULTS[result]);
  }
  return problem("The mailbox could not be connected.", `Try again; if it keeps failing, tell your practice admin (${query.get("sendvia_error") ?? "error"}).`);
}

/** The screen; `message` (what the last action did) goes right below the mailbox it is about. */
function render(app: App, settings: Settings, draw: (m?: HTMLElement | null) => Promise<void>, message: HTMLElement | null): HTMLElement[] {
  const tenant = settings.tenant;
  const which: MailboxId = tenant.mailbox_policy === "per_user" ? "me" : "tenant";
  const mailbox = settings.mailboxes[which] ?? null;
  const mayChange = which === "me" || app.person.role === "admin";
  const route = settings.route;
  const parts: HTMLElement[] = [
    section(
      "How your emails are sent",
      h("p", { "data-testid": "route" }, route.via === "mailbox" ? "From your mailbox: " : "From the platform's address: ", h("strong", {}, route.from)),
      which === "tenant" ? h("p", { class: "sub" }, "This practice uses one mailbox for everyone.") : null,
    ),
  ];
  if (mailbox) parts.push(mailboxCard(app, which, mailbox, mayChange, draw));
  if (message) parts.push(message);
  if (!mayChange) {
    parts.push(h("p", {}, "Your practice admin manages the practice's mailbox."));
    return parts;
  }
  const integrations = tenant.integrations;
  if (!integrations.gmail && !integrations.microsoft && !integrations.smtp_imap) {
    parts.push(section("Connect a mailbox", h("p", {}, "Your practice has not turned on any way to connect a mailbox yet. Ask your practice admin (Email settings).")));
    return parts;
  }
  const connect = section(mailbox ? (mailbox.provider === "smtp" ? "Change your mailbox" : "Connect another way") : "Connect your mailbox");
  const signIns = h("div", { class: "row" });
  const other = (provider: string): boolean => mailbox?.provider !== provider; // Re-authorize is above
  if (integrations.gmail && other("gmail")) signIns.append(signInButton(app, which, "google", "Sign in with Google", mailbox?.receive ?? false));
  if (integrations.microsoft && other("microsoft")) signIns.append(signInButton(app, which, "microsoft", "Sign in with Microsoft", mailbox?.receive ?? false));
  if (signIns.childElementCount) connect.append(signIns);
  if (integrations.smtp_imap && (!mailbox || mailbox.provider === "smtp")) {
    connect.append(smtpForm(app, which, mailbox, draw));
  }
  if (connect.childElementCount > 1) parts.push(connect); // more than its heading

  return parts;
}

function signInButton(app: App, which: MailboxId, provider: "google" | "microsoft", label: string, receive: boolean): HTMLElement {
  const go = button(label, "primary");
  go.dataset.provider = provider;
  const outlet = h("div", {});
  busy(go, outlet, async () => {
    const started = await must(
      app.api.POST("/oauth_start", { body: { provider, mailbox: which, receive, return_to: `${location.origin}/` } }),
    );
    location.assign(started.authorization_url);
  });
  return h("div", {}, go, outlet);
}

function mailboxCard(app: App, which: MailboxId, mailbox: Mailbox, mayChange: boolean, draw: (m?: HTMLElement | null) => Promise<void>): HTMLElement {
  const path = { params: { path: { mailbox_id: which } } };
  const outlet = h("div", { "aria-live": "polite" });
  const card = section(
    "Your mailbox",
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Address"), h("dd", { "data-testid": "address" }, mailbox.address),
      h("dt", {}, "Provider"), h("dd", {}, PROVIDERS[mailbox.provider] ?? mailbox.provider),
      h("dt", {}, "State"), h("dd", { "data-testid": "mailbox-state" }, badge(mailbox.state)),
      h("dt", {}, "Last tested"), h("dd", {}, when(mailbox.last_tested_at)),
      mailbox.provider === "smtp" && mailbox.imap ? [h("dt", {}, "Sent folder"), h("dd", { "data-testid": "sent-folder" }, mailbox.sent_folder ?? "Not chosen")] : null,
      mailbox.receive ? [h("dt", {}, "Last sync"), h("dd", {}, when(mailbox.last_synced_at))] : null,
    ),
    mailbox.last_error && mailbox.state !== "active" ? problem(mailbox.last_error.message ?? "The mailbox failed.", mailbox.last_error.hint) : null,
    (mailbox.warnings ?? []).map((w) => h("p", { class: "warning" }, String((w as { message?: string }).message ?? ""))),
  );
  if (!mayChange) return card;

  const actions = h("div", { class: "actions" });
  const testButton = button("Test connection", "primary");
  busy(testButton, outlet, async () => {
    const result = await must(app.api.POST("/test_connection", { body: { mailbox: which } }));
    await draw(testReport(result));
  });
  actions.append(testButton);
  if (mailbox.state === "active" || mailbox.state === "broken") {
    const revert = button("Use the platform's sender");
    busy(revert, outlet, async () => {
      await must(app.api.POST("/settings/mailboxes/{mailbox_id}:revert", path));
      await draw(notice("Emails now go from the platform's address. Your mailbox details are kept."));
    });
    actions.append(revert);
  }
  if (mailbox.state === "reverted") {
    const resume = button("Resume sending from this mailbox");
    busy(resume, outlet, async () => {
      const resumed = await must(app.api.POST("/settings/mailboxes/{mailbox_id}:resume", path));
      await draw(resumed.state === "active" ? notice("Sending from your mailbox again.") : null);
    });
    actions.append(resume);
  }
  if (mailbox.provider !== "smtp") {
    actions.append(signInButton(app, which, mailbox.provider === "gmail" ? "google" : "microsoft", "Re-authorize", mailbox.receive));
  }
  const forget = button("Forget this mailbox", "danger");
  forget.addEventListener("click", () => {
    if (forget.dataset.armed) return;
    forget.dataset.armed = "yes";
    const sure = button("Yes, forget it", "danger");
    busy(sure, outlet, async () => {
      await must(app.api.DELETE("/settings/mailboxes/{mailbox_id}", path));
      await draw(notice("The mailbox is forgotten: its access is revoked and its password deleted."));
    });
    forget.after(sure);
  });
  actions.append(forget);
  card.append(actions);
  if (mailbox.state === "pending_confirmation") card.append(codeForm(app, which, draw));
  if (mailbox.provider === "smtp" && mailbox.imap) card.append(sentFolderPicker(app, which, mailbox, draw));
  card.append(outlet);
  return card;
}

function testReport(result: TestResult): HTMLElement {
  const report = h(
    "section",
    { class: "card", "aria-labelledby": "test-title", "data-testid": "test-report" },
    h("h2", { id: "test-title" }, result.ok ? "The test passed" : "The test found a problem"),
    h(
      "ol",
      { class: "steps" },
      result.steps.map((step) =>
        h(
          "li",
          { class: step.ok ? "ok" : "failed", "data-step": step.name },
          h("span", { class: "mark", "aria-hidden": "true" }, step.ok ? "✓" : "✗"),
          h("strong", {}, STEPS[step.name] ?? step.name),
          step.ok ? h("span", { class: "sub" }, ` ${step.reply ?? ""}`) : null,
          !step.ok
            ? h(
                "div",
                { class: "cause", "data-cause": step.cause ?? "" },
                h("p", {}, CAUSES[step.cause ?? ""] ?? (step.cause ?? "It failed.").replaceAll("_", " ")),
                step.hint ? h("p", { class: "hint" }, step.hint) : null,
                step.reply ? h("p", { class: "detail" }, `The server said: ${step.reply}`) : null,
              )
            : null,
        ),
      ),
    ),
  );
  if (result.confirmation === "sent") {
    report.append(h("p", {}, "We sent a test email with a code to your address. Enter it above to start sending from this mailbox."));
  }
  return report;
}

function codeForm(app: App, which: MailboxId, draw: (m?: HTMLElement | null) => Promise<void>): HTMLElement {
  const code = h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}" });
  const confirm = button("Confirm", "primary");
  const outlet = h("div", {});
  busy(confirm, outlet, async () => {
    await must(app.api.POST("/test_connection/confirm", { body: { mailbox: which, code: code.value.trim() } }));
    await draw(notice("Confirmed: your emails now go from this mailbox."));
  });
  return h("div", { class: "code-form" }, field("Code from the test email", code), confirm, outlet);
}

function sentFolderPicker(app: App, which: MailboxId, mailbox: Mailbox, draw: (m?: HTMLElement | null) => Promise<void>): HTMLElement {
  const path = { params: { path: { mailbox_id: which } } };
  const show = button("Choose the Sent folder");
  const outlet = h("div", {});
  const picker = h("div", { class: "picker" }, show, outlet);
  busy(show, outlet, async () => {
    const { folders, suggested_sent } = await must(app.api.GET("/settings/mailboxes/{mailbox_id}/folders", path));
    const select = h(
      "select",
      { name: "sent_folder" },
      folders.map((f) =>
        h("option", { value: f.name, selected: f.name === (mailbox.sent_folder ?? suggested_sent) }, f.special_use ? `${f.name} (${f.special_use})` : f.name),
      ),
    );
    const save = button("Save Sent folder", "primary");
    const saved = h("div", {});
    busy(save, saved, async () => {
      await must(app.api.PUT("/settings/mailboxes/{mailbox_id}", { ...path, body: { ...settingsOf(mailbox), sent_folder: select.value } }));
      await draw(notice(`Copies of sent emails will be saved in “${select.value}”.`));
    });
    picker.replaceChildren(field("Sent folder", select, "Where copies of what you send are kept."), save, saved);
  });
  return picker;
}

type SettingsIn = Schemas["MailboxSettingsIn"];

/** A saved mailbox's settings as PUT takes them back: the 14 dots keep each password. */
function settingsOf(mailbox: Mailbox): SettingsIn {
  const server = (s: Mailbox["smtp"]) =>
    s ? { host: s.host, port: s.port, security: s.security as "starttls" | "tls", username: s.username, password: s.password } : null;
  return {
    preset: "custom",
    address: mailbox.address,
    display_name: mailbox.display_name,
    smtp: server(mailbox.smtp) ?? {},
    imap: server(mailbox.imap),
    sent_folder: mailbox.sent_folder ?? null,
    receive: mailbox.receive,
  };
}

function smtpForm(app: App, which: MailboxId, mailbox: Mailbox | null, draw: (m?: HTMLElement | null) => Promise<void>): HTMLElement {
  const input = (name: string, value: string | number | null | undefined, type = "text", extra: Record<string, string> = {}): HTMLInputElement =>
    h("input", { name, type, value: value === null || value === undefined ? "" : String(value), ...extra });
  const smtp = mailbox?.smtp;
  const imap = mailbox?.imap;
  const address = input("address", mailbox?.address, "email", { autocomplete: "email" });
  const preset = h(
    "select",
    { name: "preset" },
    h("option", { value: "custom" }, "Other provider (enter its servers)"),
    h("option", { value: "gmail" }, "Gmail or Google Workspace"),
    h("option", { value: "office365" }, "Microsoft 365 / Outlook"),
  );
  const servers = h("div", { class: "servers" });
  const fields = {
    smtpHost: input("smtp.host", smtp?.host),
    smtpPort: input("smtp.port", smtp?.port ?? 587, "number"),
    smtpSecurity: securitySelect("smtp.security", smtp?.security ?? "starttls"),
    smtpUser: input("smtp.username", smtp?.username, "text", { autocomplete: "off" }),
    password: input("smtp.password", smtp?.password, "password", { autocomplete: "new-password" }),
    imapHost: input("imap.host", imap?.host),
    imapPort: input("imap.port", imap?.port ?? 993, "number"),
    imapSecurity: securitySelect("imap.security", imap?.security ?? "tls"),
  };
  servers.append(
    h("fieldset", {}, h("legend", {}, "Outgoing (SMTP)"), field("Server", fields.smtpHost), field("Port", fields.smtpPort), field("Security", fields.smtpSecurity), field("User name", fields.smtpUser, "Usually your email address; leave empty to use it.")),
    h("fieldset", {}, h("legend", {}, "Incoming (IMAP), for the Sent folder"), field("Server", fields.imapHost), field("Port", fields.imapPort), field("Security", fields.imapSecurity)),
  );
  const applyPreset = (): void => {
    const chosen = PRESETS[preset.value];
    servers.hidden = Boolean(chosen);
    if (chosen) {
      [fields.smtpHost.value, fields.smtpPort.value, fields.smtpSecurity.value] = chosen.smtp.map(String);
      [fields.imapHost.value, fields.imapPort.value, fields.imapSecurity.value] = chosen.imap.map(String);
    }
  };
  preset.addEventListener("change", applyPreset);
  address.addEventListener("change", async () => {
    const value = address.value.trim();
    if (!value.includes("@")) return;
    try {
      const found = await must(app.api.GET("/settings/discover", { params: { query: { address: value } } }));
      if (found.preset && found.preset in PRESETS) {
        preset.value = found.preset;
        applyPreset();
      }
    } catch {
      // a suggestion only: the person can still choose
    }
  });
  const displayName = input("display_name", mailbox?.display_name, "text", { autocomplete: "name" });
  const receive = checkbox("Also show replies and other mail with patients (reads your mailbox)", "receive", mailbox?.receive ?? false);
  const outlet = h("div", { "aria-live": "polite" });
  const save = button(mailbox ? "Save changes" : "Save and continue", "primary");
  const form = h(
    "form",
    { "aria-label": "SMTP/IMAP settings", class: "smtp-form" },
    h("h3", {}, mailbox ? "SMTP/IMAP settings" : "Connect with an app password (SMTP/IMAP)"),
    field("Email address", address),
    field("Name shown to recipients", displayName),
    field("Provider", preset),
    servers,
    field("App password", fields.password, "An app password from your provider's security settings. A saved one shows as dots; leave them to keep it."),
    receive,
    save,
    outlet,
  );
  busy(save, outlet, async () => {
    clearInvalid(form);
    const server = (host: HTMLInputElement, portInput: HTMLInputElement, security: HTMLSelectElement) => ({
      host: host.value.trim() || null,
      port: portInput.value ? Number(portInput.value) : null,
      security: security.value as "starttls" | "tls",
    });
    try {
      await must(
        app.api.PUT("/settings/mailboxes/{mailbox_id}", {
          params: { path: { mailbox_id: which } },
          body: {
            preset: preset.value as "custom" | "gmail" | "office365",
            address: address.value.trim(),
            display_name: displayName.value.trim(),
            smtp: { ...server(fields.smtpHost, fields.smtpPort, fields.smtpSecurity), username: fields.smtpUser.value.trim() || null, password: fields.password.value || null },
            imap: server(fields.imapHost, fields.imapPort, fields.imapSecurity),
            sent_folder: mailbox?.sent_folder ?? null,
            receive: (form.querySelector("input[name=receive]") as HTMLInputElement).checked,
          },
        }),
      );
    } catch (error) {
      if (error instanceof ApiError && error.field) markInvalid(form, error.field, error.message);
      throw error;
    }
    await draw(notice("Saved. Now test the connection: we will send you an email with a code."));
  });
  return form;
}

function securitySelect(name: string, value: string): HTMLSelectElement {
  return h(
    "select",
    { name },
    h("option", { value: "starttls", selected: value === "starttls" }, "STARTTLS (usually port 587 or 143)"),
    h("option", { value: "tls", selected: value === "tls" }, "TLS (usually port 465 or 993)"),
  );
}

function markInvalid(form: HTMLElement, name: string, message: string): void {
  const input = form.querySelector<HTMLElement>(`[name="${CSS.escape(name)}"]`);
  if (!input) return;
  input.setAttribute("aria-invalid", "true");
  const id = `${input.id}-error`;
  input.setAttribute("aria-errormessage", id);
  input.after(h("p", { class: "field-error", id }, message));
}

function clearInvalid(form: HTMLElement): void {
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  form.querySelectorAll(".field-error").forEach((e) => e.remove());
}

