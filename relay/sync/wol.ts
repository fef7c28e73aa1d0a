import { createSocket } from "node:dgram";

// Wake-on-LAN magic packet: 6 × 0xFF, then the target MAC 16 times (102 bytes), sent as a UDP broadcast.
export function magicPacket(mac: string): Buffer {
  const hex = mac.toLowerCase().replace(/[:\-.]/g, "");
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new Error(`not a MAC address: ${mac}`);
  const macBytes = Buffer.from(hex, "hex");
  const packet = Buffer.alloc(6 + 16 * 6, 0xff);
  for (let i = 0; i < 16; i++) macBytes.copy(packet, 6 + i * 6);
  return packet;
}

export type WakeTarget = {
  // The LAN's broadcast address (255.255.255.255 or the subnet's, e.g. 192.168.1.255).
  address: string;
  port: number;
  // Source address on the LAN interface, so the broadcast leaves on the right network.
  bindAddress?: string;
};

export async function sendWake(mac: string, target: WakeTarget): Promise<void> {
  const packet = magicPacket(mac);
  const socket = createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: target.bindAddress ?? "0.0.0.0", port: 0 }, () => resolve());
    });
    socket.setBroadcast(true);
    await new Promise<void>((resolve, reject) => socket.send(packet, target.port, target.address, (err) => (err ? reject(err) : resolve())));
  } finally {
    socket.close();
  }
}
