// A recipe: what an operator creates through the admin API to boot one OS (README.md, one section each). The demo
// seed (worker/dev/seedDemo.mjs) and the recipe tests (test/worker/recipes/) create exactly these, in this order:
// artifacts and image, profile, host (without profile), its secrets, then the host's profile.
// Plain data, no imports: Node runs this file as is (type stripping) for `npm start`.

export type RecipeImage = {
  name: string;
  arch: string;
  version: string;
  // role → the upstream file name for that role (initrd: a list). The demo uploads a small placeholder per name.
  artifacts: Record<string, string | string[]>;
};

export type RecipeProfile = {
  name: string;
  description: string;
  cmdline: string;
  nocloud?: boolean;
  userData?: string;
  files?: Record<string, { kind: "ignition" | "talos" | "preseed" | "autoinstall" | "text"; template: string }>;
  vars?: Record<string, unknown>;
};

export type RecipeSecret = { name: string; scope: "site" | "host"; demoValue: string };

export type Recipe = {
  id: string;
  title: string;
  image: RecipeImage;
  profile: RecipeProfile;
  host: { hostname: string; mac: string; vars?: Record<string, unknown> };
  secrets?: RecipeSecret[];
};

// A public key for examples only (no private half exists anywhere); operators replace it.
export const EXAMPLE_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdgebootExampleKeyReplaceMeWithYourOwnKey0 ops@example";
