// Every recipe, in the order of README.md (the Debian installer: debian-installer.md).
import { alpine } from "./alpine.ts";
import { debian } from "./debian.ts";
import { fcos } from "./fcos.ts";
import { flatcar } from "./flatcar.ts";
import { k3s } from "./k3s.ts";
import { nixos } from "./nixos.ts";
import type { Recipe } from "./recipe.ts";
import { talos } from "./talos.ts";
import { ubuntu } from "./ubuntu.ts";

export const RECIPES: readonly Recipe[] = [flatcar, fcos, talos, nixos, alpine, ubuntu, k3s, debian];
export type { Recipe } from "./recipe.ts";
