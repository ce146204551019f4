/** The mailbox screen: how email leaves (the route), the connected mailbox with its state and
 * actions, and the ways to connect one: Sign in with Google or Microsoft, or SMTP/IMAP. */
import { ApiError, must, type Mailbox, type Schemas, type Settings, type TestResult } from "../api";
import type { App } from "../app";
import { badge, busy, button, checkbox, clearInvalid, field, focusOn, h, markInvalid, notice, problem, section, when } from "../ui";

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

/** Why email goes the way it does (the route's `reason`). */
const ROUTE_REASONS: Record<string, string> = {
  mailbox_active: "",
  no_mailbox: "No mailbox is connected.",
  integration_off: "The way this mailbox was connected has been turned off in Email settings.",
  mailbox_pending_confirmation: "The mailbox is waiting for the code from its test email.",
  mailbox_reverted: "The mailbox is set aside; resume it to send from it again.",
  mailbox_broken: "The mailbox needs attention: emails fail until it is fixed.",
  mailbox_broken_fallback: "The mailbox needs attention; meanwhile emails go from the platform's address.",
  mailbox_throttled_fallback: "The mailbox reached its provider's sending limit; meanwhile emails go from the platform's address.",
};

/** What `sendvia_error` codes mean, after a sign-in that did not connect. Only these are shown:
 * the rest of the URL is anybody's to write. */
const SIGN_IN_ERRORS: Record<string, string> = {
  scope_not_granted: "Sending email was not allowed on the consent screen. Sign in again and leave “Send email on your behalf” ticked.",
  no_refresh_token: "The provider did not give lasting access. Remove this app from your account's connected apps, then sign in again.",
  integration_off: "Your practice has turned this way of connecting off. Ask your practice admin.",
  invalid_grant: "The sign-in expired before it finished. Sign in again.",
  profile_unavailable: "The provider did not say which address this is. Sign in again in a moment.",
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
  if (result in RESULTS) {
    return result === "connected" ? notice(RESULTS[result]) : problem(RESULTS[result]);
  }
  const known = SIGN_IN_ERRORS[query.get("sendvia_error") ?? ""];
  return problem("The mailbox could not be connected.", known ?? "Try again; if it keeps failing, tell your practice admin.");
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
      ROUTE_REASONS[route.reason] ? h("p", { "data-testid": "route-reason" }, ROUTE_REASONS[route.reason]) : null,
      which === "tenant" ? h("p", { class: "sub" }, "This practice uses one mailbox for everyone.") : null,
    ),
  ];
  if (mailbox) parts.push(mailboxCard(app, which, mailbox, mayChange, draw));
  if (message) {
    message.dataset.focus = "result"; // read out: the screen's heading does not take the focus
    parts.push(message);
    queueMicrotask(() => focusOn(message));
  }
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
  const reading = checkbox("Also show replies and other mail with patients (reads your mailbox)", "sign_in_receive", false);
  const receive = (): boolean => (reading.querySelector("input") as HTMLInputElement).checked;
  if (integrations.gmail && other("gmail")) signIns.append(signInButton(app, which, "google", "Sign in with Google", receive));
  if (integrations.microsoft && other("microsoft")) signIns.append(signInButton(app, which, "microsoft", "Sign in with Microsoft", receive));
  if (signIns.childElementCount) connect.append(signIns, reading);
  if (integrations.smtp_imap && (!mailbox || mailbox.provider === "smtp")) {
    connect.append(smtpForm(app, which, mailbox, draw));
  }
  if (connect.childElementCount > 1) parts.push(connect); // more than its heading

  return parts;
}

function signInButton(app: App, which: MailboxId, provider: "google" | "microsoft", label: string, receive: () => boolean): HTMLElement {
  const go = button(label, "primary");
  go.type = "button";
  go.dataset.provider = provider;
  const outlet = h("div", {});
  busy(go, outlet, async () => {
    const started = await must(
      app.api.POST("/oauth_start", { body: { provider, mailbox: which, receive: receive(), return_to: `${location.origin}${location.pathname}` } }),
    );
    const next = new URL(started.authorization_url);
    if (next.protocol !== "https:" && next.protocol !== "http:") throw new Error("sendvia answered an address this app will not open.");
    location.assign(next.href);
  }, "Opening the sign-in page…");
  return h("div", {}, go, outlet);
}

function mailboxCard(app: App, which: MailboxId, mailbox: Mailbox, mayChange: boolean, draw: (m?: HTMLElement | null) => Promise<void>): HTMLElement {
  const path = { params: { path: { mailbox_id: which } } };
  const outlet = h("div", { "aria-live": "polite" });
  const card = section(
    which === "tenant" ? "The practice's mailbox" : "Your mailbox",
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
    mailbox.last_error && mailbox.state !== "active" ? lastError(mailbox.last_error.message ?? "The mailbox failed.", mailbox.last_error.hint) : null,
    (mailbox.warnings ?? []).map((w) => h("p", { class: "warning" }, String((w as { message?: string }).message ?? ""))),
  );
  if (!mayChange) return card;

  const actions = h("div", { class: "actions" });
  const testButton = button("Test connection", "primary");
  busy(testButton, outlet, async () => {
    const result = await must(app.api.POST("/test_connection", { body: { mailbox: which } }));
    await draw(testReport(result));
  }, "Testing the connection: this can take a few seconds…");
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
    actions.append(signInButton(app, which, mailbox.provider === "gmail" ? "google" : "microsoft", "Re-authorize", () => mailbox.receive));
  }
  const receiving = button(mailbox.receive ? "Stop reading replies" : "Show replies with patients");
  busy(receiving, outlet, async () => {
    await must(app.api.POST("/settings/mailboxes/{mailbox_id}:receive", { ...path, body: { receive: !mailbox.receive } }));
    await draw(notice(mailbox.receive ? "Replies are no longer read from this mailbox." : "Replies and other mail with patients will appear on their contact pages."));
  });
  actions.append(receiving);
  const forget = button("Forget this mailbox", "danger");
  forget.addEventListener("click", () => {
    if (forget.dataset.armed) return;
    forget.dataset.armed = "yes";
    const sure = button("Yes, forget it", "danger");
    const cancel = button("Keep it");
    busy(sure, outlet, async () => {
      await must(app.api.DELETE("/settings/mailboxes/{mailbox_id}", path));
      await draw(notice("The mailbox is forgotten: its access is revoked and its password deleted."));
    });
    cancel.addEventListener("click", () => {
      sure.remove();
      cancel.remove();
      delete forget.dataset.armed;
      forget.focus();
    });
    forget.after(sure, cancel);
    sure.focus();
  });
  actions.append(forget);
  card.append(actions);
  if (mailbox.state === "pending_confirmation") {
    const codeSent = mailbox.last_tested_at && !mailbox.last_error; // the last test passed
    card.append(codeSent ? codeForm(app, which, draw) : h("p", {}, "Test the connection: the test email brings the code that confirms the mailbox."));
  }
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

/** A stored problem: shown as text, not as an alert, so that it is not announced on every visit. */
function lastError(message: string, hint?: string | null): HTMLElement {
  const box = problem(message, hint);
  box.removeAttribute("role");
  return box;
}

function codeForm(app: App, which: MailboxId, draw: (m?: HTMLElement | null) => Promise<void>): HTMLElement {
  const code = h("input", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}" });
  const confirm = button("Confirm", "primary");
  const outlet = h("div", {});
  busy(confirm, outlet, async () => {
    await must(app.api.POST("/test_connection/confirm", { body: { mailbox: which, code: code.value.trim() } }));
    await draw(notice("Confirmed: your emails now go from this mailbox."));
  });
  return h("form", { class: "code-form", "aria-label": "Confirm the mailbox" }, field("Code from the test email", code), confirm, outlet);
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
    select.focus();
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
    imapPassword: input("imap.password", null, "password", { autocomplete: "new-password" }),
    imapHost: input("imap.host", mailbox ? imap?.host : null),
    imapPort: input("imap.port", imap?.port ?? 993, "number"),
    imapSecurity: securitySelect("imap.security", imap?.security ?? "tls"),
  };
  servers.append(
    h("fieldset", {}, h("legend", {}, "Outgoing (SMTP)"), field("Server", fields.smtpHost), field("Port", fields.smtpPort), field("Security", fields.smtpSecurity), field("User name", fields.smtpUser, "Usually your email address; leave empty to use it.")),
    h(
      "fieldset",
      {},
      h("legend", {}, "Incoming (IMAP), for the Sent folder"),
      field("Server", fields.imapHost, "Leave empty to send only (no copy in your Sent folder, no replies)."),
      field("Port", fields.imapPort),
      field("Security", fields.imapSecurity),
      field("IMAP password", fields.imapPassword, "Only if it differs from the app password below."),
    ),
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
  // The 14 dots stand for the saved password: typing replaces them rather than adding to them.
  for (const secret of [fields.password, fields.imapPassword]) secret.addEventListener("focus", () => secret.select());
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
    const username = fields.smtpUser.value.trim() || null;
    const imapWanted = preset.value !== "custom" || fields.imapHost.value.trim() !== "";
    // Left empty, IMAP's password is the app password typed now, else the one saved for IMAP.
    const imapPassword = fields.imapPassword.value || null;
    try {
      await must(
        app.api.PUT("/settings/mailboxes/{mailbox_id}", {
          params: { path: { mailbox_id: which } },
          body: {
            preset: preset.value as "custom" | "gmail" | "office365",
            address: address.value.trim(),
            display_name: displayName.value.trim(),
            smtp: { ...server(fields.smtpHost, fields.smtpPort, fields.smtpSecurity), username, password: fields.password.value || null },
            imap: imapWanted ? { ...server(fields.imapHost, fields.imapPort, fields.imapSecurity), username, password: imapPassword } : null,
            sent_folder: mailbox?.sent_folder ?? null,
            receive: (form.querySelector("input[name=receive]") as HTMLInputElement).checked,
          },
        }),
      );
    } catch (error) {
      if (error instanceof ApiError && error.field) {
        if (/^(smtp|imap)\.(host|port|security|username)$/.test(error.field)) servers.hidden = false; // show what the error names
        if (!markInvalid(form, error.field, error.message)) markInvalid(form, "smtp.password", error.message);
      }
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


