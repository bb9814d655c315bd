/**
 * The property-based fuzzer over the App Engine v1beta2 API (fast-check): requests of every route,
 * their fields drawn from the parameter table of each method, four in five allowed and the rest
 * anything at all. Property: every answer is a 2xx or a catalogued 4xx in Google's
 * envelope. A failure shrinks to a minimal request, printed with the seed that replays it.
 */
import { propertyFuzz } from './property-fuzz.ts';
import { v1beta2Draft } from './request-drafts.ts';

propertyFuzz('v1beta2', v1beta2Draft(), 0x5eed_0102, 18_000);
