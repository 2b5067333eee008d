// An independent verifier of a CDHT title credential, written with another library (jose)
// than the service's own: it follows only what the credential itself says.
//
//   node verify.mjs <compact VC-JWT>
//
// 1. the JWS header's kid is "<issuer URL>#<key id>": the issuer's JWKS is fetched from
//    "<issuer URL>/jwks" and the credential verified with it (EdDSA, typ vc+jwt);
// 2. the credential's issuer must be that issuer;
// 3. its credentialStatus names a BitstringStatusListCredential: fetched, verified with the
//    same JWKS, its encodedList decoded (multibase "u" + base64url of the GZIP of the
//    bitstring, index 0 the left-most bit) and the credential's bit read.
// Prints one JSON line: {"verified": true, "issuer", "credential_id", "status_bit",
// "revoked"} (exit 0), or {"verified": false, "error"} (exit 1).
import { gunzipSync } from "node:zlib";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

async function fetchOk(url, accept) {
  const response = await fetch(url, { headers: { Accept: accept } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

function statusBit(encodedList, index) {
  if (!encodedList.startsWith("u")) throw new Error("encodedList is not multibase base64url");
  const bits = gunzipSync(Buffer.from(encodedList.slice(1), "base64url"));
  if (bits.length * 8 < 131072) throw new Error("status list shorter than 131072 bits");
  if (index < 0 || index >= bits.length * 8) throw new Error("status index out of range");
  return (bits[index >> 3] >> (7 - (index % 8))) & 1;
}

async function verify(token) {
  const { kid } = decodeProtectedHeader(token);
  if (!kid || !kid.includes("#")) throw new Error("the header's kid names no issuer");
  const issuer = kid.slice(0, kid.lastIndexOf("#"));
  const jwks = await (await fetchOk(`${issuer}/jwks`, "application/json")).json();
  const keys = createLocalJWKSet(jwks);
  const options = { algorithms: ["EdDSA"], typ: "vc+jwt" };
  const { payload } = await jwtVerify(token, keys, options);
  if (payload.issuer?.id !== issuer) throw new Error("the credential's issuer is not the key's");
  const entry = payload.credentialStatus;
  if (entry?.type !== "BitstringStatusListEntry" || entry.statusPurpose !== "revocation") {
    throw new Error("no revocation status entry");
  }
  const listToken = await (await fetchOk(entry.statusListCredential,
                                         "application/vc+jwt")).text();
  const { payload: list } = await jwtVerify(listToken, keys, options);
  if (!list.type?.includes("BitstringStatusListCredential")) {
    throw new Error("the status list is not a BitstringStatusListCredential");
  }
  if (list.issuer?.id !== issuer) throw new Error("the status list's issuer is not the key's");
  const bit = statusBit(list.credentialSubject.encodedList, Number(entry.statusListIndex));
  return { verified: true, issuer, credential_id: payload.id, status_bit: bit,
           revoked: bit === 1 };
}

try {
  console.log(JSON.stringify(await verify(process.argv[2] ?? "")));
} catch (error) {
  console.log(JSON.stringify({ verified: false, error: String(error?.message ?? error) }));
  process.exitCode = 1;
}
