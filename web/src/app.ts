/** What every screen gets: the API client and who is signed in. */
import type { Api } from "./api";
import type { AppConfig } from "./config";

export interface Person {
  uid: string;
  email: string;
  tenant: string;
  role: "admin" | "member";
}

export interface App {
  api: Api;
  config: AppConfig;
  person: Person;
  /** Redraw the navigation's unread-notification count. */
  refreshNav(): Promise<void>;
}
