/** Server frames as the SDK reads them: the protocol module's decoder. */
export { isMessage, parseServerFrame } from "../protocol/index.ts";
