// Seeds a demo site, profile and host through the admin API, like an operator would; idempotent.
export async function seedDemo(baseUrl, token) {
  const call = async (method, path, body) => {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const created = [];
  const ensure = async (getPath, postPath, body, label) => {
    const existing = await call("GET", getPath);
    if (existing.status === 200) return;
    const res = await call("POST", postPath, body);
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`seeding ${label} failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    created.push(label);
  };
  await ensure("/v1/profiles/demo-linux", "/v1/profiles", {
    name: "demo-linux",
    description: "Demo profile: a cloud-init host on the serial console",
    cmdline: "console=ttyS0",
    userData: "#cloud-config\nhostname: {{ host.hostname }}\n",
  }, "profile demo-linux");
  await ensure("/v1/sites/demo", "/v1/sites", {
    slug: "demo",
    name: "Demo lab",
    bootAuth: "open",
    unknownHostPolicy: "discover",
  }, "site demo");
  await ensure("/v1/sites/demo/hosts/demo-node-1", "/v1/sites/demo/hosts", {
    hostname: "demo-node-1",
    mac: "52:54:00:12:34:56",
    profile: "demo-linux",
  }, "host demo-node-1");
  return created;
}
