/** The few DOM helpers every screen uses: no framework, just elements. */
import { ApiError } from "./api";

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | boolean | number | EventListener | null | undefined>;

/** An element: h("button", { type: "button", onclick: go }, "Save"). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.replace(/^on/, ""), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

let nextId = 0;
/** An id no other element has, for label/for and aria-describedby. */
export function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled input; `name` is the API field it fills (errors name it). */
export function field(
  label: string,
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  help?: string,
): HTMLElement {
  input.id ||= uid("f");
  const helpId = help ? uid("help") : null;
  if (helpId) input.setAttribute("aria-describedby", helpId);
  return h(
    "div",
    { class: "field" },
    h("label", { for: input.id }, label),
    input,
    helpId ? h("p", { class: "help", id: helpId }, help) : null,
  );
}

export function checkbox(label: string, name: string, checked: boolean): HTMLElement {
  const id = uid("c");
  return h(
    "div",
    { class: "check" },
    h("input", { type: "checkbox", id, name, checked }),
    h("label", { for: id }, label),
  );
}

export function radios(legend: string, name: string, choices: [string, string][], value: string): HTMLElement {
  return h(
    "fieldset",
    {},
    h("legend", {}, legend),
    choices.map(([choice, label]) => {
      const id = uid("r");
      return h(
        "div",
        { class: "check" },
        h("input", { type: "radio", id, name, value: choice, checked: choice === value }),
        h("label", { for: id }, label),
      );
    }),
  );
}

export const STATE_WORDS: Record<string, string> = {
  active: "Active",
  pending_confirmation: "Waiting for the code",
  broken: "Needs attention",
  reverted: "Using the platform's sender",
  sent: "Sent",
  sent_unconfirmed: "Sent (unconfirmed)",
  delivered: "Delivered",
  failed: "Failed",
  bounced: "Bounced",
  complained: "Marked as spam",
  suppressed: "Not sent: address suppressed",
  queued: "Queued",
  scheduled: "Scheduled",
  sending: "Sending",
  cancelled: "Cancelled",
  hard_bounced: "Bounced",
  inactive: "Inactive",
};

const TONES: Record<string, string> = {
  active: "good", sent: "good", delivered: "good",
  broken: "bad", failed: "bad", bounced: "bad", complained: "bad", suppressed: "bad",
  hard_bounced: "bad", inactive: "bad",
};

export function badge(state: string): HTMLElement {
  return h("span", { class: `badge ${TONES[state] ?? "neutral"}`, "data-state": state }, STATE_WORDS[state] ?? state);
}

/** A problem as a person needs it: what happened, and what to do. */
export function problem(message: string, hint?: string | null, extra?: string): HTMLElement {
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("p", { class: "message" }, message),
    hint ? h("p", { class: "hint" }, hint) : null,
    extra ? h("p", { class: "detail" }, extra) : null,
  );
}

/** Mark the input an error names (`smtp.host`, …) and say why beside it; false if it is not on
 * screen, so the caller can say it elsewhere. */
export function markInvalid(form: HTMLElement, name: string, message: string): boolean {
  const input = form.querySelector<HTMLElement>(`[name="${CSS.escape(name)}"]`);
  if (!input || input.closest("[hidden]")) return false;
  input.setAttribute("aria-invalid", "true");
  const id = `${input.id}-error`;
  input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
  input.after(h("p", { class: "field-error", id }, message));
  return true;
}

export function clearInvalid(form: HTMLElement): void {
  form.querySelectorAll("[aria-invalid]").forEach((e) => {
    e.removeAttribute("aria-invalid");
    const kept = (e.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id && !id.endsWith("-error"));
    if (kept.length) e.setAttribute("aria-describedby", kept.join(" "));
    else e.removeAttribute("aria-describedby");
  });
  form.querySelectorAll(".field-error").forEach((e) => e.remove());
}

export function errorBox(error: unknown): HTMLElement {
  if (error instanceof ApiError) {
    return problem(error.message, error.hint, error.field ? `Field: ${error.field}` : undefined);
  }
  return problem(error instanceof Error ? error.message : String(error));
}

export function notice(text: string): HTMLElement {
  return h("p", { class: "notice", role: "status" }, text);
}

export function when(stamp: string | null | undefined): string {
  if (!stamp) return "—";
  const date = new Date(stamp);
  return Number.isNaN(date.getTime()) ? stamp : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** Run `action` with the button disabled; its error goes into `outlet` (replacing what was there). */
/** Run `action` on the button's click (and on Enter in its form, for a primary button), with the
 * button busy and `working` said meanwhile; an error goes into `outlet`, replacing what was there,
 * and takes the focus so that it is read out. */
export function busy(button: HTMLButtonElement, outlet: HTMLElement, action: () => Promise<void>, working = "Working…"): void {
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    outlet.replaceChildren(h("p", { class: "working", role: "status" }, working));
    try {
      await action();
      outlet.querySelector(".working")?.remove();
    } catch (error) {
      const box = errorBox(error);
      outlet.replaceChildren(box);
      focusOn(box);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
}

/** Move the focus to what just appeared (a result, an error, a new screen's heading). */
export function focusOn(element: HTMLElement): void {
  element.tabIndex = -1;
  element.focus({ preventScroll: false });
}

/** A button; a primary one submits its form, so Enter in a field presses it. */
export function button(label: string, kind: "primary" | "secondary" | "danger" = "secondary"): HTMLButtonElement {
  return h("button", { type: kind === "primary" ? "submit" : "button", class: kind }, label);
}

export function section(title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}
