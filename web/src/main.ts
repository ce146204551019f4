/** The reference settings app: sign in (Firebase Auth), then the screens by the URL's hash. */
import { initializeApp } from "firebase/app";
import {
  connectAuthEmulator,
  getAuth,
  onAuthStateChanged,
  signInWithEmailAndPassword,
  signOut,
  type User,
} from "firebase/auth";

import { apiClient, must } from "./api";
import type { App, Person } from "./app";
import { loadConfig } from "./config";
import { contactScreen, contactsScreen } from "./screens/contact";
import { mailboxScreen } from "./screens/mailbox";
import { membersScreen } from "./screens/members";
import { notificationsScreen } from "./screens/notifications";
import { settingsScreen } from "./screens/settings";
import { errorBox, field, focusOn, h } from "./ui";

const root = document.getElementById("app") as HTMLElement;

interface Route {
  path: string;
  title: string;
  adminOnly?: boolean;
  inNav: boolean;
  render: (app: App, params: string[]) => Promise<HTMLElement>;
}

const ROUTES: Route[] = [
  { path: "mailbox", title: "Mailbox", inNav: true, render: (app) => mailboxScreen(app) },
  { path: "settings", title: "Email settings", adminOnly: true, inNav: true, render: (app) => settingsScreen(app) },
  { path: "members", title: "Members", adminOnly: true, inNav: true, render: (app) => membersScreen(app) },
  { path: "contacts", title: "Contacts", inNav: true, render: (app, [id]) => (id ? contactScreen(app, decodeURIComponent(id)) : contactsScreen(app)) },
  { path: "notifications", title: "Notifications", inNav: true, render: (app) => notificationsScreen(app) },
];

async function boot(): Promise<void> {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    root.replaceChildren(h("main", {}, h("h1", {}, "Email"), errorBox(error)));
    return;
  }
  const firebase = initializeApp({
    authDomain: `${config.firebase.projectId}.firebaseapp.com`,
    ...config.firebase,
  });
  const auth = getAuth(firebase);
  if (config.authEmulatorUrl) {
    connectAuthEmulator(auth, config.authEmulatorUrl, { disableWarnings: true });
  }
  onAuthStateChanged(auth, async (user) => {
    if (!user) {
      window.onhashchange = null;
      root.replaceChildren(signInScreen((email, password) => signInWithEmailAndPassword(auth, email, password).then(() => undefined)));
      return;
    }
    const person = await personOf(user);
    const api = apiClient(config.functionsUrl, () => user.getIdToken());
    const nav = h("nav", { "aria-label": "Email" });
    const main = h("main", { id: "main" });
    const app: App = { api, config, person, refreshNav: () => drawNav(app, nav) };
    const signOutButton = h("button", { type: "button", class: "link", onclick: () => void signOut(auth) }, "Sign out");
    root.replaceChildren(
      h(
        "header",
        {},
        h("p", { class: "product" }, "Clinic app · Email"),
        h("p", { class: "who" }, `${person.email} (${person.role === "admin" ? "practice admin" : "practitioner"})`, " ", signOutButton),
      ),
      nav,
      main,
    );
    let shown = 0; // the latest navigation: a slower, earlier screen must not replace it
    const show = async (): Promise<void> => {
      const mine = ++shown;
      const [path, ...params] = (location.hash.replace(/^#\/?/, "") || "mailbox").split("/");
      const route = ROUTES.find((r) => r.path === path && (!r.adminOnly || person.role === "admin")) ?? ROUTES[0];
      document.title = `${route.title} — Email`;
      const heading = h("h1", {}, route.title);
      main.replaceChildren(heading, h("p", { class: "loading" }, "Loading…"));
      let screen: HTMLElement;
      try {
        [screen] = await Promise.all([route.render(app, params), drawNav(app, nav, route.path)]);
      } catch (error) {
        screen = errorBox(error);
      }
      if (mine !== shown) return;
      main.replaceChildren(heading, screen);
      focusOn(main.querySelector<HTMLElement>("[data-focus]") ?? heading); // a result shown at once, else the heading
    };
    window.onhashchange = () => void show();
    await show();
  });
}

async function personOf(user: User): Promise<Person> {
  const claims = (await user.getIdTokenResult()).claims;
  return {
    uid: user.uid,
    email: user.email ?? user.uid,
    tenant: String(claims.tenant_id ?? ""),
    role: claims.role === "admin" ? "admin" : "member",
  };
}

let current = "mailbox";
async function drawNav(app: App, nav: HTMLElement, active?: string): Promise<void> {
  current = active ?? current;
  let unread = 0;
  try {
    const page = await must(app.api.GET("/activity/notifications", { params: { query: { unread: "true" } } }));
    unread = page.notifications.length;
  } catch {
    unread = 0; // the count is a convenience; the screen itself shows the error
  }
  nav.replaceChildren(
    h(
      "ul",
      {},
      ROUTES.filter((r) => r.inNav && (!r.adminOnly || app.person.role === "admin")).map((r) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: `#/${r.path}`, "aria-current": r.path === current ? "page" : null },
            r.title,
            r.path === "notifications" && unread > 0
              ? h("span", { class: "count" }, h("span", { "data-testid": "unread" }, String(unread)), h("span", { class: "visually-hidden" }, " unread"))
              : null,
          ),
        ),
      ),
    ),
  );
}

function signInScreen(signIn: (email: string, password: string) => Promise<void>): HTMLElement {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const outlet = h("div", {});
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      onsubmit: async (event: Event) => {
        event.preventDefault();
        submit.disabled = true;
        outlet.replaceChildren();
        try {
          await signIn(email.value.trim(), password.value);
        } catch (error) {
          const code = (error as { code?: string }).code ?? "";
          const message = code.includes("invalid-credential") || code.includes("wrong-password") || code.includes("user-not-found")
            ? "That email and password do not match an account."
            : `Sign-in failed (${code || String(error)}).`;
          outlet.replaceChildren(errorBox(new Error(message)));
        } finally {
          submit.disabled = false;
        }
      },
    },
    field("Email", email),
    field("Password", password),
    submit,
    outlet,
  );
  return h("main", { id: "main", class: "narrow" }, h("h1", {}, "Sign in to the clinic app"), form);
}

void boot();
