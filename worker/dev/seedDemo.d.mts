// Types for seedDemo.mjs (plain JS so `npm start` runs it without a build): what it created, as labels.
export function seedDemo(baseUrl: string, token: string): Promise<string[]>;
