/** Where this app finds sendvia and Firebase Auth: `config.json`, served beside the app.
 * Locally `make up` serves it (emulators/web_server.py); a host product deploys its own. */
export interface AppConfig {
  /** The functions' base URL: `${functionsUrl}/settings`, `${functionsUrl}/send`, … */
  functionsUrl: string;
  firebase: { apiKey: string; projectId: string; authDomain?: string };
  /** The Firebase Auth emulator's URL, or null in production. */
  authEmulatorUrl: string | null;
}

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) {
    throw new Error(`config.json answered ${response.status}: is the app served by make up?`);
  }
  return (await response.json()) as AppConfig;
}
