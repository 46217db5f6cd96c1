/**
 * In-memory ownership store and the single-instance registry: the L1 tier, and the whole store when no Redis is
 * configured.
 */
@NullMarked
package io.mcp.affinity.core.memory;

import org.jspecify.annotations.NullMarked;
