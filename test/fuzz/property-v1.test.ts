/**
 * The property-based fuzzer over the native v1 API (fast-check): requests of every route,
 * their fields drawn from the route's own schemas, four in five allowed and the rest
 * anything at all. Property: every answer is a 2xx or a catalogued 4xx in the native
 * envelope. A failure shrinks to a minimal request, printed with the seed that replays it.
 */
import { propertyFuzz } from './property-fuzz.ts';
import { v1Draft } from './request-drafts.ts';

propertyFuzz('v1', v1Draft(), 0x5eed_0101, 20_000);
