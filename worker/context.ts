import type { Db } from "./db/client.ts";
import type { Env } from "./env.ts";

// What an authenticated admin caller may do; set by the bearer middleware.
export type Principal = {
  name: string;
  tokenId: string | null;
  scopes: string[];
};

export type AppEnv = {
  Bindings: Record<string, unknown>;
  Variables: {
    env: Env;
    db: Db;
    principal: Principal;
  };
};
