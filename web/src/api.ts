/** sendvia's API, typed from docs/openapi.json (`npm run api-types` writes api/schema.d.ts, so a
 * contract change breaks this build, not the person using the app). */
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./api/schema";

export type Schemas = components["schemas"];
export type Settings = Schemas["Settings"];
export type Tenant = Schemas["Tenant"];
export type Mailbox = Schemas["Mailbox"];
export type Delivery = Schemas["Delivery"];
export type TestResult = Schemas["TestResult"];
export type Notification = Schemas["Notification"];
export type Recipient = Schemas["Recipient"];
export type Problem = Schemas["Problem"];
export type ErrorBody = Schemas["Error"]["error"];

/** An answer that is not 2xx: what the person reads (message, hint) and the field it names. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export type Api = ReturnType<typeof createClient<paths>>;

/** A client of the functions at `baseUrl`, sending the signed-in user's ID token. */
export function apiClient(baseUrl: string, idToken: () => Promise<string>): Api {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await idToken()}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

/** The data of a 2xx answer, or an ApiError with the contract's error shape. */
export async function must<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "unreachable", "sendvia did not answer.", "Check your connection and try again.");
  }
  const { data, error, response } = result;
  if (response.ok) {
    return data as T;
  }
  const body = (error as { error?: ErrorBody } | undefined)?.error;
  if (body && typeof body.message === "string") {
    throw new ApiError(response.status, body.code, body.message, body.hint ?? "", body.field);
  }
  throw new ApiError(response.status, "http_" + response.status, `sendvia answered ${response.status}.`, "Try again in a moment.");
}
