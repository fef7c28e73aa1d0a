// What the relay and the API agree on when the relay carries a machine's request (chain fetch, /h/ proxy). Pure
// constants, shared by worker/ and relay/ so neither side can drift.

// The client address the relay saw (the chain fetch and every proxied host-token request).
export const CLIENT_ADDRESS_HEADER = "Edgeboot-Client-Address";
// The one MAC the relay learned from DHCP for that address, when it can vouch for it (the /h/ proxy).
export const CLIENT_MAC_HEADER = "Edgeboot-Client-Mac";
// A host token as it sits in a URL path: a compact EdDSA JWS (64-byte signature, 86 base64url characters).
export const HOST_TOKEN_PATTERN = /^[A-Za-z0-9_-]{20,200}\.[A-Za-z0-9_-]{20,200}\.[A-Za-z0-9_-]{86}$/;
