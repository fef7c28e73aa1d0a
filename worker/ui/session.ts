// The status page's login: the operator pastes an API token once; it lives in a session cookie (HttpOnly, so page
// scripts never see it; SameSite=Strict and scoped to /ui; no Max-Age, so it ends with the browser session) and is
// checked on every request by the same code as the API's bearer tokens. Never put into a URL or a page.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { authenticate } from "../auth/bearer.ts";
import type { AppEnv, Principal } from "../context.ts";
import { ApiError } from "../errors.ts";

export type UiEnv = {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { uiToken: string };
};

export const SESSION_COOKIE = "edgeboot_session";
// The alphabet and length bearerAuth accepts.
export const TOKEN_SHAPE = /^[A-Za-z0-9._~+/=-]{16,512}$/;

export type LoginReason = "expired" | "signed-out";

export function startSession(c: Context<UiEnv>, token: string) {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/ui", secure: new URL(c.req.url).protocol === "https:" });
}

export function endSession(c: Context<UiEnv>) {
  deleteCookie(c, SESSION_COOKIE, { path: "/ui", secure: new URL(c.req.url).protocol === "https:" });
}

// Checks a pasted or stored token; null with the reason when it does not authenticate.
export async function principalFor(c: Context<UiEnv>, token: string): Promise<{ principal: Principal } | { error: string }> {
  if (!TOKEN_SHAPE.test(token)) return { error: "That is not an edgeboot API token: expected 16-512 characters of letters, digits and . _ ~ + / = -" };
  try {
    return { principal: await authenticate(c as unknown as Context<AppEnv>, token, Date.now()) };
  } catch (err) {
    if (err instanceof ApiError && err.code === "unauthorized") return { error: `The API refused this token: ${err.message}.` };
    throw err;
  }
}

// Pages need a session; without one, GETs go to the login form and anything else gets 401.
export const requireSession = createMiddleware<UiEnv>(async (c, next) => {
  const token = getCookie(c, SESSION_COOKIE);
  const result = token ? await principalFor(c, token) : null;
  if (!token || !result || "error" in result) {
    if (token) endSession(c);
    // Page fragments the browser polls get a 401 it can explain; whole pages go to the login form.
    if (c.req.method === "GET" && !/\/(timeline|activity)$/.test(c.req.path)) return c.redirect(`/ui/login${token ? "?reason=expired" : ""}`, 303);
    return c.text("session ended: log in again at /ui/login\n", 401);
  }
  c.set("principal", result.principal);
  c.set("uiToken", token);
  await next();
});
