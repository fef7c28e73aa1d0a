// What a rule is matched against. A known host brings its labels and recorded identity (the request fills what the
// record lacks); an unknown machine has only what iPXE sent: MAC, UUID, serial and ${buildarch}, no labels.
export type Machine = {
  labels: Record<string, string>;
  arch: string | null;
  mac: string | null;
  uuid: string | null;
  serial: string | null;
};

type Identity = { mac?: string | null; uuid?: string | null; serial?: string | null; arch?: string | null };

export function machineOf(host: (Identity & { labels?: Record<string, string> | null }) | null, request: Identity): Machine {
  return {
    labels: host?.labels ?? {},
    arch: host?.arch || request.arch || null,
    mac: host?.mac || request.mac || null,
    uuid: host?.uuid || request.uuid || null,
    serial: host?.serial || request.serial || null,
  };
}
