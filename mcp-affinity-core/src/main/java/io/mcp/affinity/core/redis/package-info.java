/**
 * Redis L2 ownership store and the Redis instance registry (heartbeats with a TTL), on Spring Data Redis reactive.
 */
@NullMarked
package io.mcp.affinity.core.redis;

import org.jspecify.annotations.NullMarked;
