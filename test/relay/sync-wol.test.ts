import { describe, expect, it } from "vitest";
import { magicPacket, sendWake } from "../../relay/sync/wol.ts";
import { UdpPeer } from "./support/udp.ts";

describe("wake-on-LAN", () => {
  it("builds the magic packet: 6 x 0xff then the MAC 16 times", () => {
    const p = magicPacket("52:54:00:ab:cd:ef");
    expect(p.length).toBe(102);
    expect([...p.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for (let i = 0; i < 16; i++) expect(p.subarray(6 + i * 6, 12 + i * 6).toString("hex")).toBe("525400abcdef");
    expect(magicPacket("52-54-00-AB-CD-EF").equals(p)).toBe(true);
    expect(() => magicPacket("52:54:00")).toThrow(/MAC/);
  });

  it("sends it over UDP to the configured address and port", async () => {
    const listener = await UdpPeer.bind(0, "127.0.0.1");
    try {
      await sendWake("52:54:00:ab:cd:ef", { address: "127.0.0.1", port: listener.port, bindAddress: "127.0.0.1" });
      const got = await listener.next(2000);
      expect(got?.msg.equals(magicPacket("52:54:00:ab:cd:ef"))).toBe(true);
    } finally {
      listener.socket.close();
    }
  });
});
