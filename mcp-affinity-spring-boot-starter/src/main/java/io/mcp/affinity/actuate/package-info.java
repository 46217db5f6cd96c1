/**
 * Observability: Micrometer metrics of routing decisions, forwards and the ownership store, the {@code mcpaffinity}
 * Actuator endpoint, and the health contributor.
 */
@NullMarked
package io.mcp.affinity.actuate;

import org.jspecify.annotations.NullMarked;
